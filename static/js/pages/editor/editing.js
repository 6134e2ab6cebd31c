// The editor: selection, drawing and editing with Leaflet-Geoman, and the link
// between what the user does and what the save queue sends.
//
// Every feature the page touches has a record: its server id and version,
// its attributes, its last committed geometry (GeoJSON) and, while it is on
// screen as an editable shape, its Leaflet layer. The tiled copy of a
// feature is hidden while its record is displayed, and shown again once the
// tiles have been fetched after the save.

import { api, errorText } from "../../lib/api.js";
import { url } from "../../lib/urls.js";

const L = window.L;

const PROPS = { landslide: ["landslide_type", "certainty", "notes"], extent: ["split", "name"] };
const INFO = ["area_m2", "repaired", "review_state", "confidence"];
const NOUN = { landslide: "landslide", extent: "mapped extent" };

const SELECTED = { color: "#00b8d4", weight: 3, fillColor: "#00b8d4", fillOpacity: 0.15 };
const SETTLING = { color: "#00838f", weight: 2, fillColor: "#00838f", fillOpacity: 0.2, dashArray: null };
const REFUSED = { color: "#c62828", weight: 3, fillColor: "#c62828", fillOpacity: 0.2, dashArray: "6 4" };

function pick(object, keys) {
  return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}

// The polygons of a Polygon or MultiPolygon geometry, largest (in degrees², enough to order) first.
function polygonsOf(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  const ringArea = (ring) => Math.abs(ring.reduce((sum, [x, y], i) => {
    const [x2, y2] = ring[(i + 1) % ring.length];
    return sum + x * y2 - x2 * y;
  }, 0) / 2);
  const area = (polygon) => ringArea(polygon[0]) - polygon.slice(1).reduce((s, r) => s + ringArea(r), 0);
  return [...polygons].sort((a, b) => area(b) - area(a)).map((coordinates) => ({ type: "Polygon", coordinates }));
}

export class Editor {
  constructor({ map, config, queue, tiles, panel, dialog, undo, guides, say }) {
    Object.assign(this, { map, config, queue, tiles, panel, dialog, undo, guides, say });
    this.records = new Map();
    this.nextLocalId = Math.max(0, ...queue.ops.map((op) => op.localId)) + 1;
    this.selected = null;
    this.extra = []; // landslides shift-clicked beside the selected one, to merge them
    this.mode = null;
    this.target = "landslide";
    this.snap = true;
    this.inventory = null;
    this.defaults = { landslide: { landslide_type: "unknown", certainty: "certain", notes: "" }, extent: { name: "" } };
    map.createPane("editing").style.zIndex = 450;
    this.group = L.featureGroup().addTo(map);
    map.pm.setGlobalOptions({ snappable: true, snapDistance: 15, allowSelfIntersection: true, panes: { vertexPane: "markerPane", layerPane: "editing", markerPane: "markerPane" } });
    map.on("pm:create", (event) => this._drawn(event.layer));
    map.on("pm:drawend", () => this._modeEnded("draw"));
    map.on("pm:cut", (event) => this._cut(event));
    map.on("pm:globalcutmodetoggled", (event) => {
      if (!event.enabled) this._modeEnded(this.mode);
    });
    map.on("click", (event) => {
      if (!event.originalEvent._scarpPicked && !this.mode) this.deselect();
    });
    queue.addEventListener("saved", (event) => this._saved(event.detail));
    queue.addEventListener("conflict", (event) => this._conflict(event.detail));
    queue.addEventListener("refused", (event) => this._refused(event.detail));
    this.refreshing = new Set();
    for (const [kind, layer] of Object.entries(tiles)) layer.onLoad(() => this._settle(kind));
  }

  // ---- choosing what to edit ----

  setInventory(id) {
    this.deselect();
    this.inventory = id;
    for (const layer of Object.values(this.tiles)) layer.setInventory(id);
  }

  setTarget(kind) {
    this.target = kind;
    this.map.getContainer().classList.toggle("target-extent", kind === "extent");
    for (const radio of document.querySelectorAll('input[name="target"]')) radio.checked = radio.value === kind;
  }

  async pick(kind, id, event) {
    if (this.mode && this.mode !== "drag") return;
    const shift = event && (event.originalEvent || event).shiftKey;
    if (shift && this.selected) {
      await this.addToSelection(kind, id);
      return;
    }
    const known = this._find(kind, id);
    if (known && known === this.selected) return;
    this.deselect();
    let record = known;
    if (!record || !this.queue.hasPending(record.localId)) {
      try {
        const feature = await api(url(kind, { pk: id }));
        record = this._fromServer(kind, feature, record);
      } catch (error) {
        this.say(`Could not load ${NOUN[kind]} ${id}: ${errorText(error)}.`, true);
        return;
      }
    }
    this.select(record);
  }

  // Shift-click: one more landslide in the selection (or out of it again), for a merge.
  async addToSelection(kind, id) {
    if (kind !== "landslide" || this.selected.kind !== "landslide") {
      this.say("Only landslides can be selected together (to merge them).", true);
      return;
    }
    let record = this._find(kind, id);
    if (record && record === this.selected) return;
    if (record && this.extra.includes(record)) {
      this._unextra(record);
      return;
    }
    if (!record || !this.queue.hasPending(record.localId)) {
      try {
        record = this._fromServer(kind, await api(url(kind, { pk: id })), record);
      } catch (error) {
        this.say(`Could not load ${NOUN[kind]} ${id}: ${errorText(error)}.`, true);
        return;
      }
    }
    this._addRecord(record);
  }

  _addRecord(record) {
    if (!this.selected || record === this.selected || this.extra.includes(record)) return;
    this.extra.push(record);
    this._display(record).setStyle(SELECTED);
    record.layer.bringToFront();
    this._announce();
  }

  _unextra(record) {
    this.extra = this.extra.filter((r) => r !== record);
    if (record.layer) record.layer.setStyle(SETTLING);
    this._announce();
  }

  select(record) {
    if (this.selected && this.selected !== record) this.deselect();
    this.selected = record;
    this._display(record);
    record.layer.setStyle(SELECTED);
    record.layer.bringToFront();
    if (this.config.canEdit) record.layer.pm.enable({ snappable: this.snap });
    this.panel.show(record);
    this.guides.activate(this.inventory, [record]);
    this._announce();
  }

  deselect() {
    const record = this.selected;
    if (!record) return;
    if (this.mode === "drag" && record.layer) record.layer.pm.disableLayerDrag();
    this.mode = null;
    this.selected = null;
    for (const other of this.extra) if (other.layer) other.layer.setStyle(SETTLING);
    this.extra = [];
    if (record.layer) {
      record.layer.pm.disable();
      record.layer.setStyle(record.id ? SETTLING : REFUSED);
    }
    this.panel.hide();
    this.guides.deactivate();
    this._announce();
    this._settleSoon();
  }

  // ---- tools ----

  startDraw(kind) {
    if (!this._canEdit()) return;
    this.deselect();
    this.setTarget(kind);
    this.mode = "draw";
    this.drawKind = kind;
    this.map.pm.enableDraw("Polygon", {
      snappable: this.snap,
      pathOptions: kind === "extent" ? { color: "#2e7d32", fillColor: "url(#hatch-train)", fillOpacity: 1 } : SELECTED,
      templineStyle: { color: "#00b8d4" },
      hintlineStyle: { color: "#00b8d4", dashArray: "5 5" },
    });
    this.guides.activate(this.inventory);
    this._announce();
  }

  toggleVertices() {
    const record = this._selectedOrSay();
    if (!record || !this._canEdit()) return;
    if (this.mode === "drag") this.toggleDrag();
    if (record.layer.pm.enabled()) record.layer.pm.disable();
    else record.layer.pm.enable({ snappable: this.snap });
    this._announce();
  }

  toggleDrag() {
    const record = this._selectedOrSay();
    if (!record || !this._canEdit()) return;
    if (this.mode === "drag") {
      record.layer.pm.disableLayerDrag();
      this.mode = null;
      record.layer.pm.enable({ snappable: this.snap });
    } else {
      record.layer.pm.disable();
      record.layer.pm.enableLayerDrag();
      this.mode = "drag";
    }
    this._announce();
  }

  startCut(split) {
    const record = this._selectedOrSay();
    if (!record || !this._canEdit()) return;
    if (this.mode === "drag") this.toggleDrag();
    record.layer.pm.disable();
    this.mode = split ? "split" : "cut";
    this.map.pm.enableGlobalCutMode({ layersToCut: [record.layer], snappable: this.snap, allowSelfIntersection: false });
    this._announce();
  }

  toggleSnap() {
    this.snap = !this.snap;
    this.map.pm.setGlobalOptions({ snappable: this.snap });
    const button = document.querySelector('[data-action="snap"]');
    if (button) button.setAttribute("aria-pressed", String(this.snap));
    if (this.selected && this.selected.layer.pm.enabled()) this.selected.layer.pm.enable({ snappable: this.snap });
    this.say(this.snap ? "Snapping on." : "Snapping off.");
  }

  escape() {
    if (this.mode === "draw") this.map.pm.disableDraw();
    else if (this.mode === "cut" || this.mode === "split") this.map.pm.disableGlobalCutMode();
    else if (this.mode === "drag") this.toggleDrag();
    else this.deselect();
  }

  deleteSelected() {
    const record = this._selectedOrSay();
    if (!record || !this._canEdit()) return;
    const before = this._state(record);
    this._delete(record);
    this.undo.push({ localId: record.localId, before, after: null });
    this.say(`Deleted the ${NOUN[record.kind]}. Ctrl+Z brings it back.`);
  }

  // Merge the selected landslides into one (the server keeps the largest with the union).
  // Undo brings the merged-away outlines back as new landslides; the merge stays in the history.
  async merge() {
    if (!this._canEdit()) return;
    const records = this.selected ? [this.selected, ...this.extra] : [];
    if (records.length < 2 || records.some((r) => r.kind !== "landslide")) {
      this.say("Select two or more landslides to merge: click one, shift-click the others.", true);
      return;
    }
    if (records.some((r) => r.id === null || this.queue.hasPending(r.localId))) {
      this.say("Wait until the selected landslides are saved, then merge them.", true);
      return;
    }
    const before = new Map(records.map((r) => [r, this._state(r)]));
    let result;
    try {
      result = await api(url("landslideMerge"), {
        method: "POST", body: { landslides: records.map((r) => ({ id: r.id, version: r.version })) },
      });
    } catch (error) {
      const current = error.status === 409 && error.data && error.data.current;
      const stale = current && this._find("landslide", current.id);
      if (stale) {
        this._fromServer("landslide", current, stale);
        this._redraw(stale);
        if (stale.layer && (stale === this.selected || this.extra.includes(stale))) stale.layer.setStyle(SELECTED);
      }
      this.say(`Not merged: ${errorText(error)}`, true);
      return;
    }
    this.deselect();
    const kept = records.find((r) => r.id === result.id) || records[0];
    const changes = [];
    for (const record of records) {
      if (record === kept) continue;
      record.deleted = true;
      if (record.layer) this.group.removeLayer(record.layer);
      record.layer = null;
      this.tiles.landslide.hide(record.id);
      changes.push({ localId: record.localId, before: before.get(record), after: null });
    }
    this._fromServer("landslide", result, kept);
    this._redraw(kept);
    changes.unshift({ localId: kept.localId, before: before.get(kept), after: this._state(kept) });
    this.undo.push(changes);
    this.select(kept);
    this.say(`Merged ${records.length} landslides into landslide ${kept.id}; the others stay in the history. Ctrl+Z undoes it.`);
  }

  updateProps(record, patch) {
    if (!this._canEdit()) return;
    const before = this._state(record);
    Object.assign(record.props, patch);
    if (record.kind === "landslide") Object.assign(this.defaults.landslide, pick(patch, ["landslide_type", "certainty"]));
    this.undo.push({ localId: record.localId, before, after: this._state(record) });
    this._save(record, patch);
  }

  // Make a feature look like `state` again (undo/redo): a null state deletes it.
  applyState(localId, state) {
    const record = this.records.get(localId);
    if (!record) return;
    if (state === null) {
      if (!record.deleted) this._delete(record);
      return;
    }
    const wasDeleted = record.deleted;
    record.geometry = state.geometry;
    record.props = { ...state.props };
    record.deleted = false;
    if (wasDeleted) {
      record.id = null;
      record.version = null;
    }
    this._redraw(record);
    this._save(record, { geometry: record.geometry, ...record.props });
    if (record === this.selected) this.panel.show(record);
  }

  // ---- what Geoman reports ----

  _drawn(layer) {
    if (this.mode !== "draw") return;
    const geometry = layer.toGeoJSON(15).geometry;
    layer.remove();
    const kind = this.drawKind;
    const props = kind === "extent"
      ? { split: document.getElementById("new-extent-split").value, name: "" }
      : { ...this.defaults.landslide };
    const record = this._newRecord(kind, { geometry, props });
    this.undo.push({ localId: record.localId, before: null, after: this._state(record) });
    this._save(record, {});
    this._afterMode = () => this.select(record);
  }

  _geometryEdited(record, layer) {
    if (layer !== record.layer) return; // an outline Geoman has already replaced (cut)
    const before = this._state(record);
    record.geometry = layer.toGeoJSON(15).geometry;
    this.undo.push({ localId: record.localId, before, after: this._state(record) });
    this._save(record, { geometry: record.geometry });
  }

  _cut({ layer: result, originalLayer }) {
    const record = this.selected;
    if (!record || originalLayer !== record.layer) return;
    const json = result.toGeoJSON(15);
    result.remove();
    record.layer = null;
    const geometry = json.type === "Feature" ? json.geometry : json.features[0] && json.features[0].geometry;
    const parts = geometry ? polygonsOf(geometry) : [];
    if (!parts.length || (this.mode === "split" && parts.length < 2)) {
      this._redraw(record);
      this.say(this.mode === "split" ? "The strip did not cut it in two; nothing was split." : "The hole would remove everything; nothing was cut.", true);
      return;
    }
    const before = this._state(record);
    const changes = [];
    if (this.mode === "split") {
      record.geometry = parts[0];
      for (const part of parts.slice(1)) {
        const piece = this._newRecord(record.kind, { geometry: part, props: { ...record.props } });
        this._save(piece, {});
        this._display(piece);
        piece.layer.setStyle(SETTLING);
        changes.push({ localId: piece.localId, before: null, after: this._state(piece) });
      }
      this.say(`Split into ${parts.length} ${NOUN[record.kind]}s.`);
    } else {
      record.geometry = geometry;
    }
    changes.unshift({ localId: record.localId, before, after: this._state(record) });
    this.undo.push(changes);
    this._save(record, { geometry: record.geometry });
    this._redraw(record);
  }

  _modeEnded(mode) {
    if (this.mode !== mode) return;
    this.mode = null;
    if (mode === "draw") this.guides.deactivate();
    const after = this._afterMode;
    this._afterMode = null;
    if (after) after();
    else if (this.selected) {
      this._redraw(this.selected);
      this.guides.activate(this.inventory, [this.selected]);
    }
    this._announce();
  }

  // ---- what the save queue reports ----

  _saved({ op, result }) {
    const record = this.records.get(op.localId);
    if (!record || op.action === "delete" || !result) return;
    record.id = result.id;
    record.version = result.properties.version;
    record.info = pick(result.properties, INFO);
    this.tiles[record.kind].hide(record.id);
    if (record.layer && record.layer !== this.selected?.layer) record.layer.setStyle(SETTLING);
    if (result.properties.repaired && !this.queue.hasPending(record.localId)) {
      record.geometry = result.geometry;
      this._redraw(record);
      this.say(`The server repaired the outline of ${NOUN[record.kind]} ${record.id} (it was invalid); check it.`);
    }
    if (record === this.selected) this.panel.refresh();
  }

  async _conflict({ op, current }) {
    const record = this.records.get(op.localId) || this._fromOp(op);
    const deleting = op.action === "delete";
    const mine = record.geometry ? { type: "Feature", geometry: record.geometry, properties: {} } : null;
    const choice = await this.dialog.ask({ kind: record.kind, id: op.id, version: op.version, current, mine, deleting });
    this.queue.discard(record.localId);
    if (choice === "mine" && !current) {
      Object.assign(record, { id: null, version: null, deleted: false });
      this._save(record, {});
      this._redraw(record);
      this.say(`It had been deleted; your ${NOUN[record.kind]} was saved anew.`);
    } else if (choice === "mine") {
      record.version = current.properties.version;
      if (deleting) this.queue.enqueue(this._op(record, "delete"));
      else this.queue.enqueue(this._op(record, "update", { geometry: record.geometry, ...record.props }));
      this.say(`Your ${NOUN[record.kind]} was saved over the other change, which stays in the history.`);
    } else {
      if (choice === "copy") {
        const copy = this._newRecord(record.kind, { geometry: record.geometry, props: { ...record.props } });
        this._save(copy, {});
        this._display(copy);
        copy.layer.setStyle(SETTLING);
        this.say(`Your outline was saved as a new ${NOUN[record.kind]}; the other change is kept.`);
      }
      this._fromServer(record.kind, current, record);
      this._redraw(record);
      this.undo.forget(record.localId);
    }
    this.queue.resume();
  }

  async _refused({ op, error }) {
    const record = this.records.get(op.localId);
    if (error.status === 404 && op.action === "delete") return; // already gone
    if (error.status === 404 && op.action === "update") {
      this.queue.paused = true;
      await this._conflict({ op, current: null });
      return;
    }
    this.say(`Not saved: ${errorText(error)}`, true);
    if (!record) return;
    if (op.action === "create") {
      if (record.layer) record.layer.setStyle(REFUSED);
      return;
    }
    try {
      this._fromServer(record.kind, await api(url(record.kind, { pk: record.id })), record);
      this._redraw(record);
    } catch {
      /* the message above already says it was not saved */
    }
  }

  // ---- records and their layers ----

  _newRecord(kind, { geometry, props }) {
    const record = {
      localId: this.nextLocalId++, kind, id: null, version: null, inventory: this.inventory,
      geometry, props, info: {}, layer: null, deleted: false,
    };
    this.records.set(record.localId, record);
    return record;
  }

  _fromServer(kind, feature, record) {
    record = record || this._newRecord(kind, { geometry: null, props: {} });
    record.id = feature.id;
    record.version = feature.properties.version;
    record.geometry = feature.geometry;
    record.props = pick(feature.properties, PROPS[kind]);
    record.info = pick(feature.properties, INFO);
    record.deleted = false;
    return record;
  }

  // A queued edit from an earlier visit of the page, with nothing in memory.
  _fromOp(op) {
    const record = { localId: op.localId, kind: op.kind, id: op.id, version: op.version, inventory: op.inventory,
      geometry: op.body.geometry || null, props: pick(op.body, PROPS[op.kind]), info: {}, layer: null, deleted: op.action === "delete" };
    this.records.set(record.localId, record);
    return record;
  }

  _find(kind, id) {
    for (const record of this.records.values()) if (record.kind === kind && record.id === id) return record;
    return null;
  }

  _state(record) {
    return { geometry: record.geometry, props: { ...record.props } };
  }

  _op(record, action, body = {}) {
    return { kind: record.kind, action, localId: record.localId, id: record.id, version: record.version, inventory: record.inventory, body };
  }

  _save(record, body) {
    if (record.id === null && !this.queue.hasPending(record.localId)) {
      this.queue.enqueue(this._op(record, "create", { geometry: record.geometry, ...record.props }));
    } else {
      this.queue.enqueue(this._op(record, "update", body));
    }
  }

  _delete(record) {
    if (record === this.selected) this.deselect();
    record.deleted = true;
    if (record.layer) this.group.removeLayer(record.layer);
    record.layer = null;
    if (record.id !== null) this.tiles[record.kind].hide(record.id);
    if (record.id !== null || this.queue.hasPending(record.localId)) this.queue.enqueue(this._op(record, "delete"));
  }

  // Show a record's committed geometry as a Leaflet layer (editable when selected).
  _display(record) {
    if (record.layer) return record.layer;
    const layer = L.geoJSON(record.geometry, { pane: "editing", style: SETTLING }).getLayers()[0];
    layer.on("pm:edit", () => this._geometryEdited(record, layer));
    layer.on("click", (event) => {
      event.originalEvent._scarpPicked = true;
      if (this.mode || record === this.selected) return;
      if (event.originalEvent.shiftKey && this.selected) {
        if (this.extra.includes(record)) this._unextra(record);
        else if (record.kind === "landslide" && this.selected.kind === "landslide") this._addRecord(record);
        else this.say("Only landslides can be selected together (to merge them).", true);
      } else this.select(record);
    });
    this.group.addLayer(layer);
    record.layer = layer;
    if (record.id !== null) this.tiles[record.kind].hide(record.id);
    return layer;
  }

  _redraw(record) {
    const selected = record === this.selected;
    if (record.layer) {
      record.layer.pm.disable();
      this.group.removeLayer(record.layer);
      record.layer = null;
    }
    if (record.deleted) return;
    this._display(record).setStyle(selected ? SELECTED : SETTLING);
    if (selected && this.config.canEdit && !this.mode) record.layer.pm.enable({ snappable: this.snap });
  }

  // Once saved and the tiles fetched again, the tiles show the truth: drop our copies.
  _settleSoon() {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      if (this.queue.pending) return;
      for (const [kind, layer] of Object.entries(this.tiles)) {
        this.refreshing.add(kind);
        layer.refresh();
      }
    }, 150);
  }

  _settle(kind) {
    if (!this.refreshing.delete(kind) || this.queue.pending) return;
    for (const record of this.records.values()) {
      if (record.kind !== kind || record === this.selected || this.extra.includes(record) || !record.layer || record.id === null) continue;
      this.group.removeLayer(record.layer);
      record.layer = null;
      this.tiles[record.kind].unhide(record.id);
    }
  }

  onQueueIdle() {
    this._settleSoon();
  }

  // ---- small helpers ----

  _selectedOrSay() {
    if (!this.selected) this.say("Select a feature first: click it on the map.", true);
    return this.selected;
  }

  _canEdit() {
    if (!this.config.canEdit) {
      this.say("Your role in this project does not allow editing.", true);
      return false;
    }
    if (this.inventory === null) {
      this.say("Start an inventory first (left panel).", true);
      return false;
    }
    return true;
  }

  _announce() {
    const labels = { draw: `Drawing a ${NOUN[this.drawKind] || "feature"}: click the corners, click the first one to finish (Esc cancels)`,
      cut: "Cutting a hole: draw it inside the outline (Esc cancels)", split: "Splitting: draw a narrow strip right across (Esc cancels)",
      drag: "Moving: drag the outline (M or Esc ends)" };
    let text = labels[this.mode] || "";
    if (!text && this.extra.length) text = `${this.extra.length + 1} landslides selected (J merges them)`;
    else if (!text && this.selected) text = this.selected.layer && this.selected.layer.pm.enabled() ? "Editing vertices" : "Selected";
    document.getElementById("mode").textContent = text;
    for (const button of document.querySelectorAll(".toolbar [data-action]")) {
      const active = { "draw-landslide": this.mode === "draw" && this.drawKind === "landslide", "draw-extent": this.mode === "draw" && this.drawKind === "extent",
        drag: this.mode === "drag", cut: this.mode === "cut", split: this.mode === "split" }[button.dataset.action];
      if (active !== undefined) button.classList.toggle("active", active);
    }
  }
}
