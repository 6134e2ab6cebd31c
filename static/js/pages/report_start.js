// Reports page: start a report (mapped extents of chosen splits, or a drawn polygon),
// follow its job, then open the report. The server checks everything again.
import { api, followJob } from "../lib/api.js";
import { url } from "../lib/urls.js";
import { pageConfig } from "../lib/page.js";

const config = pageConfig("report-config");
const form = document.getElementById("report-form");
const fields = form.elements;
const statusLine = form.querySelector(".status");
const progress = form.querySelector("progress");
const hint = document.getElementById("split-hint");
const mapBox = document.getElementById("draw-map");

function showSplits() {
  const splits = config.splits[fields.reference.value] || [];
  if (!splits.length) {
    hint.textContent = "This reference has no mapped extents; draw the evaluation area instead.";
  } else if (!splits.includes("test")) {
    hint.textContent = `This reference has ${splits.join(", ")} extents but no test extent: tick another split or draw the area.`;
  } else {
    hint.textContent = `This reference has mapped extents marked: ${splits.join(", ")}.`;
  }
}
fields.reference.addEventListener("change", () => {
  showSplits();
  if (map) showExtents();
});
showSplits();

let map = null;
let drawn = null;
let extents = null;
function showMap() {
  mapBox.hidden = false;
  if (map) return map.invalidateSize();
  map = L.map(mapBox, { maxZoom: 22 }).setView([0, 0], 2);
  if (config.sceneTiles) L.tileLayer(config.sceneTiles, { maxZoom: 22 }).addTo(map);
  map.pm.addControls({
    position: "topleft",
    drawMarker: false,
    drawCircleMarker: false,
    drawPolyline: false,
    drawCircle: false,
    drawText: false,
    cutPolygon: false,
    rotateMode: false,
  });
  map.on("pm:create", (event) => {
    if (drawn) map.removeLayer(drawn);
    drawn = event.layer;
  });
  map.on("pm:remove", (event) => {
    if (event.layer === drawn) drawn = null;
  });
  showExtents();
}

async function showExtents() {
  // The reference's mapped extents, to draw against; a large inventory has few extents.
  try {
    const data = await api(`${url("inventoryExtents", { inventory_pk: fields.reference.value })}?page_size=500`);
    if (extents) map.removeLayer(extents);
    extents = L.geoJSON(data, { style: { color: "#7b1fa2", weight: 1, fillOpacity: 0.05 }, pmIgnore: true });
    extents.addTo(map);
    if (extents.getLayers().length) map.fitBounds(extents.getBounds(), { padding: [20, 20] });
  } catch (error) {
    statusLine.textContent = `Could not show the mapped extents: ${error.message}`;
  }
}

form.addEventListener("change", (event) => {
  if (event.target.name === "area_kind") {
    if (event.target.value === "drawn") showMap();
    else mapBox.hidden = true;
  }
});

function request() {
  const body = {
    predicted: Number(fields.predicted.value),
    reference: Number(fields.reference.value),
    name: fields.namedItem("name").value,
    iou_threshold: Number(fields.iou_threshold.value),
  };
  if (fields.area_kind.value === "drawn") {
    if (!drawn) throw new Error("Draw the evaluation area on the map first (the polygon tool).");
    body.area = drawn.toGeoJSON().geometry;
  } else {
    body.splits = [...form.querySelectorAll("input[name=splits]:checked")].map((box) => box.value);
    if (!body.splits.length) throw new Error("Tick at least one split, or draw the evaluation area.");
  }
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  statusLine.classList.remove("error");
  button.disabled = true;
  try {
    const job = await api(url("reports"), { method: "POST", body: request() });
    progress.hidden = false;
    const done = await followJob(job.id, (j) => {
      progress.value = j.progress;
      statusLine.textContent = j.error || j.message || j.state;
    });
    if (done.state === "succeeded") {
      window.location.assign(`${config.reportsUrl}${done.result.report_id}/`);
      return;
    }
    statusLine.textContent = done.error || `The report job ended ${done.state}.`;
    statusLine.classList.add("error");
  } catch (error) {
    statusLine.textContent = error.message;
    statusLine.classList.add("error");
  }
  button.disabled = false;
});
