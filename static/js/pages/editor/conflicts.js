// The conflict dialog: someone saved the same feature since this page read it.
//
// Both outlines are drawn on the map while the user chooses: keep mine (save
// it over theirs; theirs stays in the history), take theirs, or keep theirs
// and save mine as a new feature. Nothing is overwritten without a choice.

const L = window.L;

export class ConflictDialog {
  constructor(map) {
    this.map = map;
    this.dialog = document.getElementById("conflict-dialog");
    this.text = document.getElementById("conflict-text");
    this.preview = L.layerGroup().addTo(map);
  }

  // Resolves to "mine", "theirs" or "copy".
  ask({ kind, id, version, current, mine, deleting }) {
    const noun = kind === "extent" ? "Mapped extent" : "Landslide";
    const now = current ? `it is now at version ${current.properties.version}` : "it no longer exists";
    const did = deleting ? "deleted" : "edited";
    this.text.textContent = `${noun} ${id} was changed by someone else since you opened it: you ${did} version ${version}, ${now}. Choose which to keep.`;
    this.preview.clearLayers();
    if (current) L.geoJSON(current, { style: { color: "#d84315", weight: 3, dashArray: "6 4", fill: false }, interactive: false, pmIgnore: true }).addTo(this.preview);
    if (mine && !deleting) L.geoJSON(mine, { style: { color: "#1565c0", weight: 3, fill: false }, interactive: false, pmIgnore: true }).addTo(this.preview);
    const buttons = [...this.dialog.querySelectorAll("button[value]")];
    this.dialog.querySelector('button[value="copy"]').hidden = Boolean(deleting) || !current;
    this.dialog.querySelector('button[value="theirs"]').hidden = !current;
    return new Promise((resolve) => {
      const choose = (event) => {
        for (const b of buttons) b.removeEventListener("click", choose);
        this.dialog.close();
        this.preview.clearLayers();
        resolve(event.currentTarget.value);
      };
      for (const b of buttons) b.addEventListener("click", choose);
      this.dialog.addEventListener("cancel", (e) => e.preventDefault(), { once: true });
      this.dialog.show();
    });
  }
}
