// Landslides and mapped extents as vector tiles (PostGIS ST_AsMVT), drawn by Leaflet.VectorGrid.
//
// The tiles are for looking and picking: a click reports the feature's id,
// the editor then loads that one feature by id and edits it as a normal
// Leaflet polygon, hiding its tiled copy meanwhile.

import { url } from "../lib/urls.js";

const L = window.L;

// The style table: the map draws with it and the legend (legend.js) is made from it.
export const REVIEW_COLOURS = { none: "#e65100", accepted: "#2e7d32", edited: "#1565c0", rejected: "#9e9e9e" };
export const SPLIT_COLOURS = { train: "#2e7d32", validation: "#1565c0", test: "#7b1fa2" };
// Each split's hatching: the angle of its lines, and whether it crosses them.
const HATCHES = { train: { angle: 45, cross: false }, validation: { angle: -45, cross: false }, test: { angle: 0, cross: true } };
const HIDDEN = { stroke: false, fill: false, opacity: 0, fillOpacity: 0 };
const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

// The hatch patterns extents are filled with (`url(#hatch-<split>)`), written once into the
// page from SPLIT_COLOURS, so the colours live in one table.
export function addHatchPatterns() {
  if (document.getElementById("hatch-patterns")) return;
  const defs = svgElement("defs", {});
  for (const [split, colour] of Object.entries(SPLIT_COLOURS)) {
    const { angle, cross } = HATCHES[split];
    const pattern = svgElement("pattern", { id: `hatch-${split}`, patternUnits: "userSpaceOnUse", width: 8, height: 8, patternTransform: `rotate(${angle})` });
    pattern.append(svgElement("rect", { width: 8, height: 8, fill: colour, "fill-opacity": 0.08 }));
    pattern.append(svgElement("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: colour, "stroke-width": 2 }));
    if (cross) pattern.append(svgElement("line", { x1: 0, y1: 0, x2: 8, y2: 0, stroke: colour, "stroke-width": 1 }));
    defs.append(pattern);
  }
  const holder = svgElement("svg", { id: "hatch-patterns", width: 0, height: 0, "aria-hidden": "true" });
  holder.style.position = "absolute";
  holder.append(defs);
  document.body.append(holder);
}

export function landslideStyle(properties) {
  const colour = REVIEW_COLOURS[properties.review_state] || REVIEW_COLOURS.none;
  return {
    color: colour,
    weight: 1.5,
    fill: true,
    fillColor: colour,
    fillOpacity: properties.review_state === "rejected" ? 0.05 : 0.25,
    dashArray: properties.review_state === "rejected" ? "4 3" : null,
  };
}

export function extentStyle(properties) {
  const colour = SPLIT_COLOURS[properties.split] || SPLIT_COLOURS.train;
  return { color: colour, weight: 2, fill: true, fillColor: `url(#hatch-${properties.split || "train"})`, fillOpacity: 1 };
}

export class TiledFeatures {
  constructor(map, { kind, urlName, layerName, style, pane, onPick }) {
    this.map = map;
    this.kind = kind;
    this.urlName = urlName;
    this.options = { layerName, style, pane, onPick };
    this.inventory = null;
    this.hidden = new Set();
    this.loadListeners = [];
    this.layer = this._build("");
    this.stale = null; // the layer a refresh replaces, until the new one has loaded
  }

  _build(address) {
    const { layerName, style, pane, onPick } = this.options;
    const layer = L.vectorGrid.protobuf(address, {
      pane,
      interactive: true,
      maxZoom: 24,
      rendererFactory: L.svg.tile,
      vectorTileLayerStyles: { [layerName]: style },
      // The MVT feature id is the database id; keep it on the properties for clicks too.
      getFeatureId: (feature) => {
        feature.properties.id = feature.id;
        return feature.id;
      },
      fetchOptions: { credentials: "same-origin" },
    });
    layer.on("click", (event) => {
      if (event.originalEvent) event.originalEvent._scarpPicked = true;
      onPick(this.kind, event.layer.properties.id, event);
    });
    for (const id of this.hidden) layer.setFeatureStyle(id, HIDDEN);
    return layer;
  }

  // Called each time the tiles in view have loaded (after a refresh too).
  onLoad(listener) {
    this.loadListeners.push(listener);
    this.layer.on("load", listener);
  }

  setInventory(inventoryId) {
    this._dropStale();
    this.inventory = inventoryId;
    this.layer.setUrl(url(this.urlName, { inventory_pk: inventoryId }), false);
  }

  show(visible) {
    this._dropStale();
    if (visible && this.inventory !== null) this.layer.addTo(this.map);
    else this.layer.remove();
  }

  // Hide the tiled copy of a feature while it is edited (or after it was deleted).
  hide(id) {
    this.hidden.add(id);
    this.layer.setFeatureStyle(id, HIDDEN);
    if (this.stale) this.stale.setFeatureStyle(id, HIDDEN);
  }

  unhide(id) {
    this.hidden.delete(id);
    this.layer.resetFeatureStyle(id);
    if (this.stale) this.stale.resetFeatureStyle(id);
  }

  // Fetch the tiles again; unchanged ones come back as 304 from the browser cache. The new
  // tiles load in a second layer under the old one, which goes only once they are all in:
  // redrawing in place would blank every polygon (and every click) until the server answered.
  refresh() {
    if (!this.map.hasLayer(this.layer)) return;
    this._dropStale();
    const old = this.layer;
    const fresh = this._build(old._url);
    fresh.once("load", () => {
      if (this.stale === old) this._dropStale();
      for (const listener of this.loadListeners) fresh.on("load", listener);
      for (const listener of this.loadListeners) listener();
    });
    this.stale = old;
    this.layer = fresh;
    fresh.addTo(this.map);
  }

  _dropStale() {
    if (this.stale) this.stale.remove();
    this.stale = null;
  }
}
