// Report page map: TP/FP/FN polygons over the scene footprint and the evaluation area.
// Layers are fetched for the visible bounds only (the server caps each answer);
// when an answer is truncated the status line asks to zoom in instead of
// showing part of a layer as if it were all of it.
import { api } from "../lib/api.js";
import { escapeHtml, textLines } from "../lib/text.js";
import { pageConfig } from "../lib/page.js";

const config = pageConfig("report-map-config");
const status = document.getElementById("map-status");

const LAYERS = {
  tp: { label: "TP: matched predictions", color: "#1b9e77" },
  fp: { label: "FP: unmatched predictions", color: "#d95f02" },
  fn: { label: "FN: missed reference landslides", color: "#7570b3" },
};

const map = L.map("report-map", { preferCanvas: true, maxZoom: 22 });
const bases = {};
if (config.sceneTiles) {
  bases[escapeHtml(config.sceneName || "Scene")] = L.tileLayer(config.sceneTiles, { maxZoom: 22 }).addTo(map);
}

const outlines = {};
if (config.footprint) {
  outlines[`Scene footprint (${escapeHtml(config.sceneName)})`] = L.geoJSON(config.footprint, {
    style: { color: "#a0522d", weight: 1.5, fill: false },
    interactive: false,
  }).addTo(map);
}
if (config.area) {
  outlines["Evaluation area"] = L.geoJSON(config.area, {
    style: { color: "#1f2a30", weight: 2, dashArray: "6 4", fill: false },
    interactive: false,
  }).addTo(map);
}

function describe(name, p) {
  const parts = [LAYERS[name].label];
  if (p.pred_id !== undefined) parts.push(`predicted #${p.pred_id}`);
  if (p.ref_id !== undefined) parts.push(`reference #${p.ref_id}`);
  if (p.iou !== undefined) parts.push(`IoU ${Number(p.iou).toFixed(3)}`);
  if (p.best_iou !== undefined) parts.push(`best IoU with the other inventory ${Number(p.best_iou).toFixed(3)}`);
  if (p.area_m2 !== undefined) parts.push(`${Math.round(p.area_m2).toLocaleString()} m²`);
  return textLines(parts);
}

const overlays = {};
const byName = {};
for (const [name, spec] of Object.entries(LAYERS)) {
  overlays[spec.label] = L.geoJSON(null, {
    style: { color: spec.color, weight: 1.5, fillColor: spec.color, fillOpacity: 0.35 },
    onEachFeature: (feature, layer) => layer.bindPopup(describe(name, feature.properties || {})),
  }).addTo(map);
  overlays[spec.label].reportLayer = name;
  byName[name] = overlays[spec.label];
}
// For the browser tests and for poking at the map from the console.
window.scarpReport = { map, layers: byName };
L.control.layers(bases, { ...outlines, ...overlays }, { collapsed: false }).addTo(map);

const start = outlines["Evaluation area"] || outlines[Object.keys(outlines)[0]];
if (start) map.fitBounds(start.getBounds(), { padding: [20, 20] });
else map.setView([0, 0], 2);

function bbox() {
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [
    clamp(b.getWest(), -180, 180),
    clamp(b.getSouth(), -90, 90),
    clamp(b.getEast(), -180, 180),
    clamp(b.getNorth(), -90, 90),
  ]
    .map((v) => v.toFixed(6))
    .join(",");
}

let generation = 0;
async function load() {
  const mine = ++generation;
  const box = bbox();
  const truncated = [];
  try {
    await Promise.all(
      Object.values(overlays).map(async (layer) => {
        const name = layer.reportLayer;
        const data = await api(`${config.layers[name]}?bbox=${box}`);
        if (mine !== generation) return;
        layer.clearLayers();
        layer.addData(data);
        if (data.truncated) truncated.push(name.toUpperCase());
      }),
    );
    if (mine !== generation) return;
    status.textContent = truncated.length
      ? `More ${truncated.join(", ")} polygons lie here than the map shows at once; zoom in to see them all.`
      : "";
  } catch (error) {
    if (mine === generation) status.textContent = `Could not load the layers: ${error.message}`;
  }
}

let timer;
map.on("moveend", () => {
  clearTimeout(timer);
  timer = setTimeout(load, 150);
});
load();
