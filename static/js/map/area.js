// A project's area of interest on a small map: drawn or edited with leaflet-geoman on the
// New project form (a rectangle, a polygon, or bounds typed in degrees, since the map has
// no base layer to draw on), shown on the project page beside its scenes' footprints.
// One area at a time, in longitude/latitude, sent to the server as a GeoJSON geometry.

const L = window.L;

export const AREA_STYLE = { color: "#a0522d", weight: 2, fillOpacity: 0.12 };
const FOOTPRINT_STYLE = { color: "#1f2a30", weight: 2, dashArray: "4 3", fill: false, pane: "footprints" };

// Draw the area and the footprints, and fit the map to them. The footprints' outlines lie
// above the area (their own pane) so hovering one names its scene, as text, never markup.
export function showArea(map, { area, footprints = [] }) {
  map.createPane("footprints").style.zIndex = 450;
  const group = L.featureGroup().addTo(map);
  for (const { name, geometry } of footprints) {
    const layer = L.geoJSON(geometry, { style: FOOTPRINT_STYLE, pane: "footprints" }).addTo(group);
    const tip = document.createElement("span");
    tip.textContent = name;
    layer.bindTooltip(tip, { sticky: true });
  }
  if (area) L.geoJSON(area, { style: AREA_STYLE, interactive: false }).addTo(group);
  if (group.getLayers().length) map.fitBounds(group.getBounds(), { padding: [12, 12], maxZoom: 16 });
  return group;
}

// The drawing on the New project form and the project page: one shape, editable once drawn;
// onChange gets the GeoJSON geometry (or null when cleared) after every draw, edit or clear.
export class AreaPicker {
  constructor(map, { onChange }) {
    this.map = map;
    this.onChange = onChange;
    this.layer = null;
    map.pm.setGlobalOptions({ allowSelfIntersection: false, pathOptions: AREA_STYLE, templineStyle: AREA_STYLE });
    map.on("pm:create", (event) => this._set(event.layer));
  }

  draw(shape) {
    this.map.pm.disableDraw();
    this.map.pm.enableDraw(shape === "rectangle" ? "Rectangle" : "Polygon");
  }

  clear() {
    this.map.pm.disableDraw();
    this._set(null);
  }

  // Bounds typed as numbers: [west, south, east, north] in degrees.
  setBounds([west, south, east, north]) {
    this._set(L.rectangle([[south, west], [north, east]], AREA_STYLE).addTo(this.map));
    this.map.fitBounds(this.layer.getBounds(), { padding: [12, 12] });
  }

  // Start from a stored area (the project page): editable at once, not yet a change.
  load(geometry) {
    const layer = L.geoJSON(geometry, { style: AREA_STYLE }).getLayers()[0];
    if (layer) this._set(layer.addTo(this.map), { quiet: true });
  }

  geometry() {
    return this.layer ? this.layer.toGeoJSON().geometry : null;
  }

  bounds() {
    if (!this.layer) return null;
    const b = this.layer.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  }

  _set(layer, { quiet = false } = {}) {
    if (this.layer && this.layer !== layer) this.layer.remove();
    this.layer = layer;
    if (layer) {
      layer.pm.enable({ allowSelfIntersection: false });
      layer.on("pm:edit", () => this.onChange(this.geometry()));
    }
    if (!quiet) this.onChange(this.geometry());
  }
}
