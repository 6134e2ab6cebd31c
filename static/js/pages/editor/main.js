// The map editor page: reads the configuration the server rendered into the page
// and wires the map, the layers, the editor, the save queue and the shortcuts.

import { api } from "../../lib/api.js";
import { fitBelowTopbar, pageConfig } from "../../lib/page.js";
import { statusLine } from "../../lib/status.js";
import { AttributePanel } from "./attributes.js";
import { Swipe } from "../../map/compare.js";
import { ConflictDialog } from "./conflicts.js";
import { Editor } from "./editing.js";
import { bindShortcuts, HelpOverlay } from "./help.js";
import { Imagery } from "../../map/imagery.js";
import { createMap } from "../../map/map.js";
import { SaveQueue } from "./savequeue.js";
import { SnapGuides } from "./snapping.js";
import { addHatchPatterns, extentStyle, landslideStyle, TiledFeatures } from "../../map/tiles.js";
import { addLegend } from "../../map/legend.js";
import { UndoStack } from "./undo.js";
import { bindGoTo } from "./goto.js";
import { InViewList } from "./inview.js";
import { url } from "../../lib/urls.js";

const config = pageConfig("map-config");
fitBelowTopbar();
const say = statusLine(document.getElementById("message"));

const map = createMap(document.getElementById("map"), config);
const swipe = new Swipe(map);
const imagery = new Imagery(map, config, swipe);

addHatchPatterns();
map.createPane("extents").style.zIndex = 410;
map.createPane("landslides").style.zIndex = 420;
const tiles = {
  extent: new TiledFeatures(map, {
    kind: "extent", urlName: "extentTiles",
    layerName: "extents", style: extentStyle, pane: "extents", onPick: (kind, id, event) => editor.pick(kind, id, event),
  }),
  landslide: new TiledFeatures(map, {
    kind: "landslide", urlName: "landslideTiles",
    layerName: "landslides", style: landslideStyle, pane: "landslides", onPick: (kind, id, event) => editor.pick(kind, id, event),
  }),
};

addLegend(map, [
  {
    title: "Landslides",
    entries: config.choices.review_state.map(([value, label]) => ({ key: value, label, style: landslideStyle({ review_state: value }) })),
  },
  {
    title: "Mapped extents",
    entries: config.choices.split.map(([value, label]) => ({ key: value, label, style: extentStyle({ split: value }) })),
  },
]);

const queue = new SaveQueue(`scarp:saves:v1:${config.project.id}:${config.user}`);
const undo = new UndoStack((localId, state) => editor.applyState(localId, state));
const panel = new AttributePanel((record, patch) => editor.updateProps(record, patch));
const editor = new Editor({
  map, config, queue, tiles, panel, undo, say,
  dialog: new ConflictDialog(map),
  guides: new SnapGuides(map),
});
const help = new HelpOverlay();
const inView = new InViewList({
  map, editor, config,
  count: document.getElementById("inview-count"),
  rows: document.getElementById("inview-rows"),
});

// ---- inventory and visibility ----

const inventorySelect = document.getElementById("inventory");
const remembered = localStorage.getItem(`scarp:inventory:${config.project.id}`);
if (inventorySelect && remembered && [...inventorySelect.options].some((o) => o.value === remembered)) {
  inventorySelect.value = remembered;
}
function inventoryChanged() {
  const id = inventorySelect ? Number(inventorySelect.value) : null;
  if (id === null) return;
  localStorage.setItem(`scarp:inventory:${config.project.id}`, String(id));
  editor.setInventory(id);
  inView.setInventory(id);
  tiles.landslide.show(document.getElementById("show-landslides").checked);
  tiles.extent.show(document.getElementById("show-extents").checked);
}
if (inventorySelect) inventorySelect.addEventListener("change", inventoryChanged);
document.getElementById("show-landslides").addEventListener("change", (e) => tiles.landslide.show(e.target.checked));
document.getElementById("show-extents").addEventListener("change", (e) => tiles.extent.show(e.target.checked));
for (const radio of document.querySelectorAll('input[name="target"]')) {
  radio.addEventListener("change", () => editor.setTarget(radio.value));
}
inventoryChanged();

function chooseInventory(id) {
  if (!inventorySelect || Number(inventorySelect.value) === id) return;
  inventorySelect.value = String(id);
  inventoryChanged();
}
const gotoForm = document.getElementById("goto-form");
if (gotoForm) bindGoTo({ form: gotoForm, map, editor, config, say, chooseInventory });

// ---- saving status ----

const statusEl = document.getElementById("save-status");
let retryTicker = null;
function showStatus({ state, pending, retryAt }) {
  statusEl.dataset.state = state;
  clearInterval(retryTicker);
  const texts = {
    saved: () => "All changes saved",
    saving: () => `Saving… (${pending})`,
    conflict: () => `Waiting for your choice (${pending} unsaved)`,
    offline: () => `Cannot reach the server: ${pending} unsaved change${pending === 1 ? "" : "s"} kept in this browser, retrying in ${Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))} s`,
  };
  statusEl.textContent = texts[state]();
  if (state === "offline") retryTicker = setInterval(() => { statusEl.textContent = texts.offline(); }, 1000);
  if (state === "saved") {
    editor.onQueueIdle();
    inView.refresh({ total: true });
  }
}
queue.addEventListener("status", (event) => showStatus(event.detail));
statusEl.addEventListener("click", () => queue.retryNow());
showStatus(queue.state());
if (queue.pending) {
  say(`${queue.pending} change${queue.pending === 1 ? "" : "s"} from your last visit were not saved yet; sending them now.`);
  queue.pump();
}

undo.addEventListener("change", ({ detail }) => {
  const undoButton = document.querySelector('[data-action="undo"]');
  const redoButton = document.querySelector('[data-action="redo"]');
  if (undoButton) undoButton.disabled = !detail.canUndo;
  if (redoButton) redoButton.disabled = !detail.canRedo;
});

// ---- actions: toolbar buttons and keyboard shortcuts share them ----

const actions = {
  "draw-landslide": () => editor.startDraw("landslide"),
  "draw-extent": () => editor.startDraw("extent"),
  edit: () => editor.toggleVertices(),
  drag: () => editor.toggleDrag(),
  cut: () => editor.startCut(false),
  split: () => editor.startCut(true),
  snap: () => editor.toggleSnap(),
  delete: () => editor.deleteSelected(),
  merge: () => editor.merge(),
  goto: () => {
    const input = document.getElementById("goto-id");
    if (input) input.focus();
    if (input) input.select();
  },
  deselect: () => editor.deselect(),
  escape: () => (help.open ? help.toggle(false) : editor.escape()),
  undo: () => undo.undo() || say("Nothing to undo."),
  redo: () => undo.redo() || say("Nothing to redo."),
  "next-preset": () => imagery.nextPreset(),
  swipe: () => imagery.toggleSwipe(),
  opacity: (event) => imagery.setOpacity(Number(document.getElementById("base-opacity")?.value || 1) + (event.key === "]" ? 0.1 : -0.1)),
  help: () => help.toggle(),
  target: () => editor.setTarget(editor.target === "landslide" ? "extent" : "landslide"),
  "new-inventory": async () => {
    try {
      await api(url("inventoryList"), { method: "POST", body: { project: config.project.id, name: "Manual mapping" } });
      window.location.reload();
    } catch (error) {
      say(`Could not create the inventory: ${error.message}`, true);
    }
  },
};

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || !actions[button.dataset.action]) return;
  event.preventDefault();
  actions[button.dataset.action](event);
  if (button.closest(".toolbar")) map.getContainer().focus({ preventScroll: true });
});
bindShortcuts((action, event) => actions[action] && actions[action](event));

// For debugging in the console and for the browser tests; the page does not depend on it.
window.scarp = { map, editor, queue, undo, imagery, tiles, inView };
