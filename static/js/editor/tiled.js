// Landslides and mapped extents as vector tiles (PostGIS ST_AsMVT), drawn by Leaflet.VectorGrid.
//
// The tiles are for looking and picking: a click reports the feature's id,
// the editor then loads that one feature by id and edits it as a normal
// Leaflet polygon, hiding its tiled copy meanwhile.

const L = window.L;

const REVIEW_COLOURS = { accepted: "#2e7d32", rejected: "#9e9e9e", edited: "#1565c0", none: "#e65100" };
const SPLIT_COLOURS = { train: "#2e7d32", validation: "#1565c0", test: "#7b1fa2" };
const HIDDEN = { stroke: false, fill: false, opacity: 0, fillOpacity: 0 };

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
  constructor(map, { kind, template, layerName, style, pane, onPick }) {
    this.map = map;
    this.kind = kind;
    this.template = template;
    this.inventory = null;
    this.hidden = new Set();
    this.layer = L.vectorGrid.protobuf("", {
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
    this.layer.on("click", (event) => {
      if (event.originalEvent) event.originalEvent._scarpPicked = true;
      onPick(this.kind, event.layer.properties.id, event);
    });
  }

  setInventory(inventoryId) {
    this.inventory = inventoryId;
    this.layer.setUrl(this.template.replace("{inventory}", inventoryId), false);
  }

  show(visible) {
    if (visible && this.inventory !== null) this.layer.addTo(this.map);
    else this.layer.remove();
  }

  // Hide the tiled copy of a feature while it is edited (or after it was deleted).
  hide(id) {
    this.hidden.add(id);
    this.layer.setFeatureStyle(id, HIDDEN);
  }

  unhide(id) {
    this.hidden.delete(id);
    this.layer.resetFeatureStyle(id);
  }

  // Fetch the tiles again; unchanged ones come back as 304 from the browser cache.
  refresh() {
    if (this.map.hasLayer(this.layer)) this.layer.redraw();
  }
}
