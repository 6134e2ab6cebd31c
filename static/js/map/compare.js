// Swipe comparison: the compare pane (say the pre-event scene) is shown left of a
// draggable divider, the main imagery right of it.
//
// The pane is clipped in layer coordinates, which move as the map pans, so the
// clip is recomputed on every move.

export class Swipe {
  constructor(map) {
    this.map = map;
    this.ratio = 0.5;
    this.enabled = false;
    this.handle = document.createElement("div");
    this.handle.className = "swipe-handle";
    this.handle.title = "Drag to compare";
    this.handle.hidden = true;
    map.getContainer().appendChild(this.handle);
    this.handle.addEventListener("pointerdown", (event) => this._drag(event));
    map.on("move zoom resize zoomend viewreset", () => this.update());
  }

  get pane() {
    return this.map.getPane("compare");
  }

  enable() {
    this.enabled = true;
    this.handle.hidden = false;
    this.update();
  }

  disable() {
    this.enabled = false;
    this.handle.hidden = true;
    if (this.pane) this.pane.style.clip = "";
  }

  update() {
    if (!this.enabled || !this.pane) return;
    const size = this.map.getSize();
    const nw = this.map.containerPointToLayerPoint([0, 0]);
    const se = this.map.containerPointToLayerPoint(size);
    const x = nw.x + size.x * this.ratio;
    this.pane.style.clip = `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`;
    this.handle.style.left = `${this.ratio * 100}%`;
  }

  _drag(event) {
    event.preventDefault();
    event.stopPropagation();
    this.map.dragging.disable();
    const box = this.map.getContainer().getBoundingClientRect();
    const move = (e) => {
      this.ratio = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
      this.update();
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      this.map.dragging.enable();
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }
}
