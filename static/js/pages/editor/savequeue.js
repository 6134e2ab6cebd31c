// The save queue: every edit becomes an operation sent to the API in order, one at a time.
//
// Operations are plain data kept in localStorage as well as in memory, so an
// edit made while the network is down survives a reload and is sent later.
// Each operation carries the version its edit was based on; when one
// succeeds, the later operations on the same feature move on to the new
// version (and, after a create, to the new id). A 409 pauses the queue until
// the user has chosen what to keep; a network failure is retried with back-off.

import { api } from "../../lib/api.js";
import { url } from "../../lib/urls.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const COLLECTIONS = { landslide: "inventoryLandslides", extent: "inventoryExtents" };

function isTransient(error) {
  // fetch() rejects with a TypeError when the server cannot be reached.
  return error.status === undefined || error.status >= 500 || [408, 429].includes(error.status);
}

export class SaveQueue extends EventTarget {
  constructor(storageKey) {
    super();
    this.storageKey = storageKey;
    this.ops = this._load();
    this.busy = false;
    this.paused = false;
    this.failures = 0;
    this.retryTimer = null;
    this.retryAt = null;
    this.nextOpId = Math.max(0, ...this.ops.map((op) => op.opId)) + 1;
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("beforeunload", (event) => {
      if (this.ops.length) {
        event.preventDefault();
        event.returnValue = "Some edits are not saved yet.";
      }
    });
  }

  get pending() {
    return this.ops.length;
  }

  // Queue a change; a change not yet sent is merged into a queued one for the same feature.
  enqueue({ kind, action, localId, id = null, version = null, inventory, body = {} }) {
    const waiting = this.ops.filter((op, i) => op.localId === localId && !(i === 0 && this.busy));
    const last = waiting[waiting.length - 1];
    if (last && action === "update" && (last.action === "create" || last.action === "update")) {
      Object.assign(last.body, body);
    } else if (last && action === "delete" && last.action === "create") {
      this.ops = this.ops.filter((op) => op !== last); // never reached the server
    } else if (last && action === "delete" && last.action === "update") {
      last.action = "delete";
      last.body = {};
    } else {
      this.ops.push({ opId: this.nextOpId++, kind, action, localId, id, version, inventory, body });
    }
    this._changed();
    this.pump();
  }

  hasPending(localId) {
    return this.ops.some((op) => op.localId === localId);
  }

  // Drop every queued operation of one feature (after a conflict was resolved).
  discard(localId) {
    this.ops = this.ops.filter((op) => op.localId !== localId);
    this._changed();
  }

  resume() {
    this.paused = false;
    this._changed();
    this.pump();
  }

  retryNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
    this.pump();
  }

  async pump() {
    if (this.busy || this.paused || this.retryTimer) return;
    this.busy = true;
    this._changed();
    try {
      while (this.ops.length && !this.paused) {
        const op = this.ops[0];
        let result;
        try {
          result = await this._send(op);
        } catch (error) {
          if (error.status === 409) {
            this.paused = true;
            this._emit("conflict", { op, current: error.data && error.data.current, error });
            break;
          }
          if (isTransient(error)) {
            this._scheduleRetry(error);
            break;
          }
          this.ops.shift(); // refused for a reason a retry cannot change
          this._changed();
          this._emit("refused", { op, error });
          continue;
        }
        this.ops.shift();
        this.failures = 0;
        this._advance(op, result);
        this._changed();
        this._emit("saved", { op, result });
      }
    } finally {
      this.busy = false;
      this._changed();
    }
  }

  _send(op) {
    if (op.action === "create") {
      return api(url(COLLECTIONS[op.kind], { inventory_pk: op.inventory }), { method: "POST", body: op.body });
    }
    const item = url(op.kind, { pk: op.id });
    if (op.action === "update") {
      return api(item, { method: "PATCH", body: { ...op.body, version: op.version } });
    }
    return api(`${item}?version=${op.version}`, { method: "DELETE" });
  }

  // Later operations of the same feature now build on what the server answered.
  _advance(op, result) {
    for (const later of this.ops) {
      if (later.localId !== op.localId) continue;
      if (result && result.id !== undefined) later.id = result.id;
      if (result && result.properties) later.version = result.properties.version;
    }
  }

  _scheduleRetry(error) {
    this.failures += 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    this.retryAt = Date.now() + delay;
    this.lastError = error;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = null;
      this.pump();
    }, delay);
  }

  _load() {
    try {
      const ops = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(ops) ? ops : [];
    } catch {
      return [];
    }
  }

  _changed() {
    if (this.ops.length) localStorage.setItem(this.storageKey, JSON.stringify(this.ops));
    else localStorage.removeItem(this.storageKey);
    this._emit("status", this.state());
  }

  state() {
    if (this.paused) return { state: "conflict", pending: this.ops.length };
    if (this.retryTimer) return { state: "offline", pending: this.ops.length, retryAt: this.retryAt };
    if (this.ops.length) return { state: "saving", pending: this.ops.length };
    return { state: "saved", pending: 0 };
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
