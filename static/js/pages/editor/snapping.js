// Snap guides: the outlines around the view, loaded as bounded GeoJSON while
// drawing or editing at a close zoom, so Leaflet-Geoman can snap new vertices
// to neighbouring landslides and extents. The guides are invisible and cannot
// be clicked or edited; the vector tiles remain what the user sees.

import { api } from "../../lib/api.js";
import { url } from "../../lib/urls.js";

const L = window.L;
const MIN_ZOOM = 15;
const PAGE = 500;
const GUIDE = { interactive: false, pmIgnore: true, snapIgnore: false, style: { opacity: 0, fillOpacity: 0, weight: 1 } };

export class SnapGuides {
  constructor(map) {
    this.map = map;
    this.group = L.layerGroup().addTo(map);
    this.active = false;
    this.inventory = null;
    this.exclude = new Set();
    this.request = 0;
    map.on("moveend", () => {
      if (this.active) this.load();
    });
  }

  activate(inventory, exclude = []) {
    this.active = true;
    this.inventory = inventory;
    this.exclude = new Set(exclude.map((e) => `${e.kind}:${e.id}`));
    this.load();
  }

  deactivate() {
    this.active = false;
    this.group.clearLayers();
  }

  async load() {
    const ticket = ++this.request;
    if (this.inventory === null || this.map.getZoom() < MIN_ZOOM) {
      this.group.clearLayers();
      return;
    }
    const b = this.map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(7);
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].join(",");
    const query = `?bbox=${bbox}&page_size=${PAGE}`;
    let collections;
    try {
      collections = await Promise.all([
        api(`${url("inventoryLandslides", { inventory_pk: this.inventory })}${query}`),
        api(`${url("inventoryExtents", { inventory_pk: this.inventory })}${query}`),
      ]);
    } catch {
      return; // guides are a convenience; editing goes on without them
    }
    if (ticket !== this.request || !this.active) return;
    this.group.clearLayers();
    for (const [kind, collection] of [["landslide", collections[0]], ["extent", collections[1]]]) {
      for (const feature of collection.features) {
        if (this.exclude.has(`${kind}:${feature.id}`)) continue;
        L.geoJSON(feature, GUIDE).eachLayer((layer) => this.group.addLayer(layer));
      }
    }
  }
}
