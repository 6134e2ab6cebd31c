// Imagery layers: one scene shown with a band preset (or one band with a colour map),
// its opacity, and a second scene to compare with by swiping.
//
// Which presets a scene offers comes from the server (its band names decide);
// the page only builds the tile URL, from the server's table.
import { url } from "../lib/urls.js";

const L = window.L;

export function tileUrl(scene, { preset, band, colormap }) {
  const params = new URLSearchParams({ preset });
  if (preset === "single") {
    params.set("bands", String(band || 1));
    if (colormap) params.set("colormap", colormap);
  }
  return `${url("sceneTiles", { pk: scene.id })}?${params}`;
}

function sceneLayer(scene, style, pane, opacity) {
  return L.tileLayer(tileUrl(scene, style), {
    pane,
    opacity,
    maxZoom: 24,
    tileSize: 256,
    bounds: L.latLngBounds(scene.bounds).pad(0.02),
    className: `scene-${scene.id}`,
  });
}

export class Imagery {
  constructor(map, config, swipe) {
    this.map = map;
    this.config = config;
    this.swipe = swipe;
    this.scenes = new Map(config.scenes.map((s) => [String(s.id), s]));
    this.base = null;
    this.compare = null;
    this.el = {
      scene: document.getElementById("base-scene"),
      preset: document.getElementById("base-preset"),
      band: document.getElementById("base-band"),
      colormap: document.getElementById("base-colormap"),
      opacity: document.getElementById("base-opacity"),
      compare: document.getElementById("compare-scene"),
      swipe: document.getElementById("swipe"),
      pair: document.getElementById("compare-pair"),
    };
    if (!this.el.scene) return;
    map.createPane("imagery").style.zIndex = 200;
    map.createPane("compare").style.zIndex = 210;
    // The page may name the scene to open on (the review: the scene the model predicted on);
    // otherwise the first post-event optical scene.
    const first = this.scenes.get(String(config.initialScene))
      || config.scenes.find((s) => s.kind === "optical" && s.phase === "post");
    if (first) this.el.scene.value = String(first.id);
    map.fitBounds(this.scene.bounds, { maxZoom: 19 });
    this.el.scene.addEventListener("change", () => this._sceneChanged());
    for (const input of [this.el.preset, this.el.band, this.el.colormap]) {
      input.addEventListener("change", () => this._redraw());
    }
    this.el.opacity.addEventListener("input", () => this.setOpacity(Number(this.el.opacity.value)));
    this.el.compare.addEventListener("change", () => this._compareChanged());
    this.el.swipe.addEventListener("change", () => this._compareChanged());
    if (this.el.pair) this.el.pair.addEventListener("click", () => this.comparePair());
    this._sceneChanged();
  }

  get scene() {
    return this.scenes.get(this.el.scene.value);
  }

  style() {
    return {
      preset: this.el.preset.value,
      band: Number(this.el.band.value || 1),
      colormap: this.el.colormap.value,
    };
  }

  setOpacity(value) {
    if (!this.el.scene) return;
    const opacity = Math.min(1, Math.max(0, value));
    this.el.opacity.value = String(opacity);
    if (this.base) this.base.setOpacity(opacity);
  }

  // Cycle through the presets the current scene offers (a keyboard shortcut).
  nextPreset() {
    if (!this.el.scene) return;
    const options = [...this.el.preset.options];
    if (!options.length) return;
    this.el.preset.selectedIndex = (this.el.preset.selectedIndex + 1) % options.length;
    this._redraw();
  }

  // The pre-event partner of a post-event scene (the pair a change-detection model sees),
  // swiped against it.
  comparePair() {
    const scene = this.scene;
    if (!scene || !scene.pair) return;
    this.el.compare.value = String(scene.pair);
    this.el.swipe.checked = true;
    this._compareChanged();
  }

  toggleSwipe() {
    if (!this.el.scene) return;
    this.el.swipe.checked = !this.el.swipe.checked;
    this._compareChanged();
  }

  _sceneChanged() {
    const scene = this.scene;
    if (!scene) return;
    const labels = this.config.presetLabels;
    this.el.preset.replaceChildren(
      ...scene.presets.map((p) => new Option(labels[p] || p, p, false, p === scene.defaultPreset)),
    );
    this.el.band.replaceChildren(...scene.bands.map((name, i) => new Option(`${i + 1}: ${name}`, String(i + 1))));
    this.el.colormap.value = scene.colormap;
    if (this.el.pair) this.el.pair.hidden = !scene.pair;
    if (this.map.pointer) this.map.pointer.setScene(scene);
    this._redraw();
    // Choosing a scene shows it, unless the view already lies on it (a pre-event scene of
    // the same place keeps the reviewer's polygon in view).
    if (!L.latLngBounds(scene.bounds).contains(this.map.getCenter())) {
      this.map.fitBounds(scene.bounds, { maxZoom: 19 });
    }
  }

  _redraw() {
    const scene = this.scene;
    const style = this.style();
    for (const label of document.querySelectorAll("[data-single]")) label.hidden = style.preset !== "single";
    if (this.base && this.base.sceneId === scene.id) {
      this.base.setUrl(tileUrl(scene, style));
      return;
    }
    if (this.base) this.base.remove();
    this.base = sceneLayer(scene, style, "imagery", Number(this.el.opacity.value)).addTo(this.map);
    this.base.sceneId = scene.id;
  }

  _compareChanged() {
    if (this.compare) this.compare.remove();
    this.compare = null;
    const scene = this.scenes.get(this.el.compare.value);
    if (scene) {
      const style = { preset: scene.defaultPreset, band: 1, colormap: scene.colormap };
      this.compare = sceneLayer(scene, style, "compare", 1).addTo(this.map);
    }
    if (scene && this.el.swipe.checked) this.swipe.enable();
    else this.swipe.disable();
  }
}
