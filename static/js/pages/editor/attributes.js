// The attribute panel of the selected feature: type, certainty and notes of a
// landslide, split role and name of a mapped extent. Each change is handed to
// the editor, which saves it like any other edit.

const FORMS = { landslide: "landslide-form", extent: "extent-form" };

function formatArea(m2) {
  if (m2 === undefined || m2 === null) return "";
  return m2 >= 1e6 ? `${(m2 / 1e6).toFixed(2)} km²` : `${Math.round(m2).toLocaleString()} m²`;
}

export class AttributePanel {
  constructor(onChange) {
    this.onChange = onChange;
    this.panel = document.getElementById("attribute-panel");
    this.title = document.getElementById("attr-title");
    this.meta = document.getElementById("attr-meta");
    this.repaired = document.getElementById("attr-repaired");
    this.record = null;
    for (const [kind, id] of Object.entries(FORMS)) {
      const form = document.getElementById(id);
      form.addEventListener("change", (event) => this._changed(kind, event.target));
      form.addEventListener("submit", (event) => event.preventDefault());
    }
  }

  show(record) {
    this.record = record;
    this.panel.hidden = false;
    for (const [kind, id] of Object.entries(FORMS)) document.getElementById(id).hidden = kind !== record.kind;
    const form = document.getElementById(FORMS[record.kind]);
    for (const element of form.elements) {
      if (element.name && record.props[element.name] !== undefined) element.value = record.props[element.name] ?? "";
    }
    this.refresh();
  }

  // Update the read-only facts (id, version, area) after a save.
  refresh() {
    const record = this.record;
    if (!record) return;
    const noun = record.kind === "extent" ? "Mapped extent" : "Landslide";
    this.title.textContent = record.id ? `${noun} ${record.id}` : `New ${noun.toLowerCase()}`;
    const facts = [];
    if (record.version) facts.push(`version ${record.version}`);
    if (record.info.area_m2) facts.push(formatArea(record.info.area_m2));
    if (record.info.review_state && record.info.review_state !== "none") facts.push(record.info.review_state);
    if (record.info.confidence !== null && record.info.confidence !== undefined) facts.push(`confidence ${record.info.confidence.toFixed(2)}`);
    if (!record.id) facts.push("not saved yet");
    this.meta.textContent = facts.join(" · ");
    this.repaired.hidden = !record.info.repaired;
  }

  hide() {
    // A field being typed in reports its change before the panel lets go of the record.
    if (this.panel.contains(document.activeElement)) document.activeElement.blur();
    this.record = null;
    this.panel.hidden = true;
  }

  _changed(kind, element) {
    if (!this.record || this.record.kind !== kind || !element.name) return;
    this.onChange(this.record, { [element.name]: element.value });
  }
}
