// Undo and redo of this session's edits.
//
// An entry is a list of changes {localId, before, after}, where a state is
// {geometry, props} or null (the feature did not exist). Undoing applies the
// `before` states as new edits, so they are saved with versions like any
// other change and can conflict like any other change.

const LIMIT = 200;

export class UndoStack extends EventTarget {
  constructor(apply) {
    super();
    this.apply = apply;
    this.done = [];
    this.undone = [];
  }

  push(changes) {
    const list = Array.isArray(changes) ? changes : [changes];
    if (!list.length) return;
    this.done.push(list);
    if (this.done.length > LIMIT) this.done.shift();
    this.undone = [];
    this._changed();
  }

  undo() {
    const entry = this.done.pop();
    if (!entry) return false;
    for (const change of [...entry].reverse()) this.apply(change.localId, change.before);
    this.undone.push(entry);
    this._changed();
    return true;
  }

  redo() {
    const entry = this.undone.pop();
    if (!entry) return false;
    for (const change of entry) this.apply(change.localId, change.after);
    this.done.push(entry);
    this._changed();
    return true;
  }

  // A feature whose conflict was settled by taking the other person's version
  // can no longer be undone to a state built on the discarded one.
  forget(localId) {
    const keep = (entry) => !entry.some((c) => c.localId === localId);
    this.done = this.done.filter(keep);
    this.undone = this.undone.filter(keep);
    this._changed();
  }

  _changed() {
    this.dispatchEvent(new CustomEvent("change", {
      detail: { canUndo: this.done.length > 0, canRedo: this.undone.length > 0 },
    }));
  }
}
