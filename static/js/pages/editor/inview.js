// The side list of the landslides in the map's view: id, area and review state, the
// first LIMIT of them by id, with how many the view and the inventory hold. It asks the
// landslide list with the view's bbox again when the map stops moving and after a save;
// a row fits the map to its landslide and selects it, as "Go to #" does.

import { api, errorText } from "../../lib/api.js";
import { url } from "../../lib/urls.js";

const L = window.L;
const LIMIT = 200;
const numbers = new Intl.NumberFormat("en-GB");
const hectares = new Intl.NumberFormat("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

// Under one hectare in square metres, from there in hectares.
export function areaText(m2) {
  if (m2 === null || m2 === undefined) return "";
  return m2 < 10000 ? `${numbers.format(Math.round(m2))} m²` : `${hectares.format(m2 / 10000)} ha`;
}

// The view as the API's bbox: Leaflet's bounds may run past the antimeridian or the poles.
function viewBbox(map) {
  const bounds = map.getBounds();
  const clamp = (value, limit) => Math.min(limit, Math.max(-limit, value));
  const west = clamp(bounds.getWest(), 180);
  const east = clamp(bounds.getEast(), 180);
  const south = clamp(bounds.getSouth(), 90);
  const north = clamp(bounds.getNorth(), 90);
  if (!(west < east && south < north)) return null;
  return [west, south, east, north].map((v) => v.toFixed(7)).join(",");
}

export class InViewList {
  constructor({ map, editor, config, count, rows }) {
    Object.assign(this, { map, editor, count, rows });
    this.stateLabels = Object.fromEntries(config.choices.review_state);
    this.inventory = null;
    this.total = null;
    this.asked = 0; // the newest request: an older answer arriving late is dropped
    this.timer = null;
    if (!rows) return; // a project without an inventory yet: nothing to list
    map.on("moveend", () => this.refresh());
    rows.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) this.open(Number(row.dataset.id));
    });
  }

  setInventory(id) {
    this.inventory = id;
    this.total = null;
    this.refresh({ total: true, now: true });
  }

  // Ask again soon (a map being dragged stops many times); `total` recounts the inventory.
  refresh({ total = false, now = false } = {}) {
    if (total) this.total = null;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._load(), now ? 0 : 250);
  }

  async _load() {
    if (this.inventory === null) return;
    const asked = ++this.asked;
    const address = url("inventoryLandslides", { inventory_pk: this.inventory });
    const bbox = viewBbox(this.map);
    // Only an answer that counted the inventory may keep its count: an older load that
    // used the count from before a save must not put it back after the save cleared it.
    const counting = this.total === null;
    try {
      const [inView, total] = await Promise.all([
        bbox ? api(`${address}?${new URLSearchParams({ bbox, page_size: String(LIMIT) })}`) : { count: 0, features: [] },
        counting ? api(`${address}?page_size=1`).then((body) => body.count) : this.total,
      ]);
      if (asked !== this.asked) return;
      if (counting) this.total = total;
      this._render(inView, total);
    } catch (error) {
      if (asked !== this.asked) return;
      this.count.textContent = `The landslides in view could not be listed: ${errorText(error)}.`;
    }
  }

  _render({ count, features }, total) {
    this.features = new Map(features.map((f) => [f.id, f]));
    let text = `${numbers.format(count)} of ${numbers.format(total)} in view`;
    if (count > features.length) text += `; showing the first ${numbers.format(features.length)}, zoom in for the rest`;
    this.count.textContent = text;
    const selected = this.editor.selected && this.editor.selected.kind === "landslide" ? this.editor.selected.id : null;
    this.rows.replaceChildren(
      ...features.map((feature) => {
        const row = document.createElement("tr");
        row.dataset.id = String(feature.id);
        row.title = `Zoom to landslide ${feature.id} and select it`;
        if (feature.id === selected) row.setAttribute("aria-current", "true");
        const cells = [`#${feature.id}`, areaText(feature.properties.area_m2), this.stateLabels[feature.properties.review_state] || feature.properties.review_state];
        row.append(...cells.map((text) => Object.assign(document.createElement("td"), { textContent: text })));
        return row;
      }),
    );
  }

  async open(id) {
    const feature = this.features && this.features.get(id);
    if (!feature) return;
    for (const row of this.rows.querySelectorAll("tr[aria-current]")) row.removeAttribute("aria-current");
    const row = this.rows.querySelector(`tr[data-id="${id}"]`);
    if (row) row.setAttribute("aria-current", "true");
    this.editor.setTarget("landslide");
    this.map.fitBounds(L.geoJSON(feature).getBounds(), { padding: [40, 40], maxZoom: 20 });
    await this.editor.pick("landslide", id);
    this.map.getContainer().focus({ preventScroll: true });
  }
}
