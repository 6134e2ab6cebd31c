// The review page: walk a predicted inventory's queue one polygon at a time over the
// imagery and decide with the keyboard. The server owns the rules (roles, versions,
// approved polygons frozen until reopened); this page shows its answers, conflicts
// included, and never retries a decision behind the reviewer's back.

import { api } from "../lib/api.js";
import { fitBelowTopbar, pageConfig } from "../lib/page.js";
import { statusLine } from "../lib/status.js";
import { url } from "../lib/urls.js";
import { Swipe } from "../map/compare.js";
import { Imagery } from "../map/imagery.js";
import { createMap } from "../map/map.js";
import { addLegend } from "../map/legend.js";
import { landslideStyle, TiledFeatures } from "../map/tiles.js";

const L = window.L;
const config = pageConfig("review-config");
const inventory = { inventory_pk: config.inventory.id };
const STATE_LABELS = { none: "not reviewed", accepted: "accepted", edited: "accepted with edits", rejected: "rejected" };
const STYLES = {
  none: { color: "#f9a825", weight: 3, fillOpacity: 0.08 },
  accepted: { color: "#2e7d32", weight: 3, fillOpacity: 0.12 },
  edited: { color: "#1565c0", weight: 3, fillOpacity: 0.12 },
  rejected: { color: "#b3261e", weight: 2, dashArray: "6 4", fillOpacity: 0.05 },
};

fitBelowTopbar();

const map = createMap(document.getElementById("map"), config);
const swipe = new Swipe(map);
if (config.scenes.length) new Imagery(map, config, swipe);
map.createPane("neighbours").style.zIndex = 405;
map.createPane("references").style.zIndex = 410;
map.createPane("review").style.zIndex = 420;

// The rest of the prediction around the polygon under review, and the reference outlines:
// a reviewer judges a polygon by its neighbours and by what was mapped there before.
const neighbourStyle = (properties) => ({ ...landslideStyle(properties), weight: 1, fillOpacity: 0.1 });
const referenceStyle = () => ({ color: "#00acc1", weight: 2, dashArray: "5 3", fill: false });
const neighbours = new TiledFeatures(map, {
  kind: "landslide", urlName: "landslideTiles", layerName: "landslides", style: neighbourStyle, pane: "neighbours",
  onPick: (kind, id) => jumpTo(id),
});
neighbours.setInventory(config.inventory.id);
const references = config.references.map((reference) => {
  const layer = new TiledFeatures(map, {
    kind: "reference", urlName: "landslideTiles", layerName: "landslides", style: referenceStyle, pane: "references",
    onPick: () => {},
  });
  layer.setInventory(reference.id);
  return layer;
});

const states = config.choices.review_state;
addLegend(map, [
  { title: "Polygon to decide", entries: states.map(([value, label]) => ({ key: value, label, style: STYLES[value] })) },
  { title: "Other predictions", entries: states.map(([value, label]) => ({ key: value, label, style: neighbourStyle({ review_state: value }) })) },
  ...(config.references.length
    ? [{ title: "Reference outlines", entries: config.references.map((r) => ({ label: r.name, style: referenceStyle() })) }]
    : []),
]);

const state = { items: [], pos: 0, count: 0, progress: null, layer: null, editing: false, busy: false, hidden: null };
window.scarpReview = { map, state, neighbours, references };

const el = (id) => document.getElementById(id);
const say = statusLine(el("message"));

function current() {
  return state.items[state.pos] || null;
}

function queueParams() {
  const params = new URLSearchParams({ order: el("order").value, page_size: "200" });
  if (el("state").value) params.set("state", el("state").value);
  if (el("min-area").value.trim()) params.set("min_area", el("min-area").value.trim());
  if (el("assigned").checked) params.set("assigned_to", "me");
  return params;
}

// Reset: start over with the filters. Otherwise append what is new, so polygons
// already walked past (decided or skipped) keep their place for Back.
async function loadQueue(reset) {
  let body;
  try {
    body = await api(`${url("reviewQueue", inventory)}?${queueParams()}`);
  } catch (error) {
    say(`The queue could not be loaded: ${error.message}`, true);
    return 0;
  }
  state.progress = body.progress;
  state.count = body.count;
  let added = body.results;
  if (reset) {
    state.items = body.results;
    state.pos = 0;
  } else {
    const seen = new Set(state.items.map((f) => f.id));
    added = body.results.filter((f) => !seen.has(f.id));
    state.items.push(...added);
  }
  show();
  return added.length;
}

function renderProgress() {
  const p = state.progress;
  if (!p) return;
  const pct = Math.round(p.fraction * 100);
  el("progress-text").textContent = `${p.decided} of ${p.total} decided (${pct}%)`;
  el("progress-bar").value = p.fraction;
  el("counts").replaceChildren(...["accepted", "edited", "rejected", "none"].flatMap((key) => {
    const dt = document.createElement("dt");
    dt.textContent = STATE_LABELS[key];
    dt.className = `state-${key}`;
    const dd = document.createElement("dd");
    dd.textContent = String(p[key]);
    dd.dataset.count = key;
    return [dt, dd];
  }));
  el("queue-pos").textContent = state.items.length
    ? `Polygon ${Math.min(state.pos + 1, state.items.length)} of ${state.items.length} loaded · ${state.count} match the filters`
    : "Nothing in the queue with these filters.";
}

function renderCurrent(item) {
  const rows = item
    ? [
        ["Landslide", `#${item.id}`],
        ["State", STATE_LABELS[item.properties.review_state]],
        ["Version", item.properties.version],
        ["Confidence", item.properties.confidence == null ? "–" : item.properties.confidence.toFixed(3)],
        ["Area", `${Math.round(item.properties.area_m2)} m²`],
        ["Last changed by", item.properties.updated_by || "the model"],
      ]
    : [["Queue", "done: nothing more to review with these filters"]];
  el("current").replaceChildren(...rows.flatMap(([label, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    if (label === "State") dd.id = "current-state";
    return [dt, dd];
  }));
}

function show() {
  const item = current();
  if (state.layer) state.layer.remove();
  state.layer = null;
  if (state.hidden !== null) neighbours.unhide(state.hidden);
  state.hidden = null;
  renderProgress();
  renderCurrent(item);
  if (!item) return;
  neighbours.hide(item.id);
  state.hidden = item.id;
  state.layer = L.geoJSON(item, { pane: "review", style: STYLES[item.properties.review_state] }).addTo(map);
  map.fitBounds(state.layer.getBounds(), { padding: [120, 120], maxZoom: 19, animate: false });
}

function merge(item, feature) {
  // The decision answer carries the full landslide; keep the queue's own fields (uncertainty).
  item.geometry = feature.geometry;
  Object.assign(item.properties, feature.properties);
}

function showConflict(error) {
  const box = el("conflict");
  const now = error.data && error.data.current;
  box.textContent = now
    ? `${error.message} It is now version ${now.properties.version}, ${STATE_LABELS[now.properties.review_state]}; the map shows it as it is now.`
    : error.message;
  box.hidden = false;
}

async function send(urlName, body, done) {
  const item = current();
  if (!item || state.busy) return;
  state.busy = true;
  el("conflict").hidden = true;
  try {
    const answer = await api(url(urlName, { ...inventory, pk: item.id }), { method: "POST", body });
    merge(item, answer.landslide);
    state.progress = answer.progress;
    neighbours.refresh();
    done(item);
  } catch (error) {
    if (error.status === 409) {
      if (error.data && error.data.current) merge(item, error.data.current);
      showConflict(error);
      show();
    } else {
      say(error.message, true);
    }
  } finally {
    state.busy = false;
  }
}

function decide(decision, geometry) {
  if (!config.canReview) {
    say("Your role can see this review but not decide; ask an admin for the reviewer role.", true);
    return;
  }
  const item = current();
  if (!item) return;
  const body = { decision, version: item.properties.version };
  if (geometry) body.geometry = geometry;
  return send("reviewDecide", body, (it) => {
    say(`Landslide ${it.id}: ${STATE_LABELS[decision]} (version ${it.properties.version}).`);
    next();
  });
}

function reopen() {
  const item = current();
  if (!item) return;
  return send("reviewReopen", { version: item.properties.version }, (it) => {
    say(`Landslide ${it.id} reopened (version ${it.properties.version}); decide again.`);
    show();
  });
}

async function next() {
  if (state.pos < state.items.length - 1) {
    state.pos += 1;
    show();
    return;
  }
  state.pos = state.items.length;  // past the end until more arrive
  const added = await loadQueue(false);
  if (!added) say("End of the queue: every polygon matching the filters has been seen.");
}

// A click on a neighbouring prediction makes it the current polygon, when the queue holds it.
function jumpTo(id) {
  if (state.editing) return;
  const index = state.items.findIndex((f) => f.id === id);
  if (index < 0) {
    say(`Landslide #${id} is not in the queue with these filters.`);
    return;
  }
  state.pos = index;
  el("conflict").hidden = true;
  show();
}

function back() {
  if (state.pos === 0) return;
  state.pos -= 1;
  el("conflict").hidden = true;
  show();
}

function startEdit() {
  const item = current();
  if (!item || !state.layer || !config.canReview) return;
  state.editing = true;
  state.layer.eachLayer((layer) => layer.pm.enable({ allowSelfIntersection: false }));
  el("mode").textContent = "Editing the outline: drag the vertices, Enter saves, Esc cancels";
}

function stopEdit(save) {
  state.editing = false;
  el("mode").textContent = "";
  let geometry = null;
  state.layer.eachLayer((layer) => {
    layer.pm.disable();
    geometry = layer.toGeoJSON().geometry;
  });
  if (save && geometry) decide("edited", geometry);
  else show();
}

const TYPING = "textarea, [contenteditable], input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=button])";
const ACTIONS = {
  a: () => decide("accepted"),
  r: () => decide("rejected"),
  e: startEdit,
  s: next,
  b: back,
  o: reopen,
};

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // Only fields that take typed text keep the letters; after a scene is chosen or a box
  // ticked the keys still decide, without a click on the map first.
  if (event.target.closest(TYPING)) return;
  if (state.editing) {
    if (event.key === "Enter") stopEdit(true);
    else if (event.key === "Escape") stopEdit(false);
    else return;
    event.preventDefault();
    return;
  }
  const run = ACTIONS[event.key.toLowerCase()];
  if (!run) return;
  event.preventDefault();
  run();
});
for (const button of document.querySelectorAll("[data-key]")) {
  button.addEventListener("click", () => ACTIONS[button.dataset.key]());
}
for (const id of ["order", "state", "assigned"]) el(id).addEventListener("change", () => loadQueue(true));
el("min-area").addEventListener("change", () => loadQueue(true));
el("show-neighbours").addEventListener("change", (e) => neighbours.show(e.target.checked));
neighbours.show(el("show-neighbours").checked);
if (el("show-references")) {
  const toggle = () => references.forEach((layer) => layer.show(el("show-references").checked));
  el("show-references").addEventListener("change", toggle);
  toggle();
}

const promote = el("promote");
if (promote) {
  promote.addEventListener("click", async () => {
    const target = el("promote-target").value;
    const body = target ? { reference: Number(target) } : { name: el("promote-name").value };
    promote.disabled = true;
    try {
      const answer = await api(url("reviewPromote", inventory), { method: "POST", body });
      say(`Promoted ${answer.promoted} polygons into ${answer.reference.name}.`);
    } catch (error) {
      say(`Nothing was promoted: ${error.message}`, true);
    } finally {
      promote.disabled = false;
    }
  });
}

loadQueue(true).then(() => { window.scarpReview.ready = true; });
