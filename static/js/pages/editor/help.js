// Keyboard shortcuts: one table drives both the key handling and the help overlay.

export const SHORTCUTS = [
  { keys: ["d"], label: "D", action: "draw-landslide", help: "Draw a landslide (click the vertices, click the first one to finish)" },
  { keys: ["x"], label: "X", action: "draw-extent", help: "Draw a mapped extent (an area mapped completely)" },
  { keys: ["t"], label: "T", action: "target", help: "Switch between picking landslides and mapped extents" },
  { keys: ["e"], label: "E", action: "edit", help: "Edit the vertices of the selected feature (drag; click a midpoint to add; right-click to remove)" },
  { keys: ["m"], label: "M", action: "drag", help: "Move the selected feature" },
  { keys: ["c"], label: "C", action: "cut", help: "Cut a hole: draw the hole inside the selected feature" },
  { keys: ["s"], label: "S", action: "split", help: "Split: draw a narrow strip across the selected feature; each side becomes its own feature" },
  { keys: ["j"], label: "J", action: "merge", help: "Merge the selected landslides into one (click one, shift-click the others)" },
  { keys: ["g"], label: "G", action: "goto", help: "Go to a landslide by its id (type it, press Enter)" },
  { keys: ["n"], label: "N", action: "snap", help: "Snapping to neighbouring outlines on or off" },
  { keys: ["Delete", "Backspace"], label: "Del", action: "delete", help: "Delete the selected feature" },
  { keys: ["Escape"], label: "Esc", action: "escape", help: "Cancel drawing, or finish with the selected feature" },
  { keys: ["ctrl+z"], label: "Ctrl+Z", action: "undo", help: "Undo your last change" },
  { keys: ["ctrl+shift+z", "ctrl+y"], label: "Ctrl+Shift+Z", action: "redo", help: "Redo" },
  { keys: ["b"], label: "B", action: "next-preset", help: "Next band combination of the imagery" },
  { keys: ["w"], label: "W", action: "swipe", help: "Swipe comparison on or off" },
  { keys: ["[", "]"], label: "[ ]", action: "opacity", help: "Imagery opacity down / up" },
  { keys: ["?", "h"], label: "? H", action: "help", help: "This help" },
];

function keyName(event) {
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (event.ctrlKey || event.metaKey) return `ctrl+${event.shiftKey ? "shift+" : ""}${key}`;
  return event.altKey ? `alt+${key}` : key;
}

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

// Calls run(action, event) for each shortcut pressed outside a form field.
export function bindShortcuts(run) {
  document.addEventListener("keydown", (event) => {
    if (typing(event.target) && event.key !== "Escape") return;
    const name = keyName(event);
    const shortcut = SHORTCUTS.find((s) => s.keys.includes(name));
    if (!shortcut) return;
    event.preventDefault();
    run(shortcut.action, event);
  });
}

export class HelpOverlay {
  constructor() {
    this.overlay = document.getElementById("help-overlay");
    const table = document.getElementById("help-keys");
    table.replaceChildren(...SHORTCUTS.map((s) => {
      const row = document.createElement("tr");
      const key = document.createElement("th");
      key.append(...s.label.split(" ").map((k) => Object.assign(document.createElement("kbd"), { textContent: k })));
      const text = document.createElement("td");
      text.textContent = s.help;
      row.append(key, text);
      return row;
    }));
    this.overlay.addEventListener("click", (event) => {
      if (event.target === this.overlay) this.toggle(false);
    });
  }

  get open() {
    return !this.overlay.hidden;
  }

  toggle(force) {
    this.overlay.hidden = force === undefined ? !this.overlay.hidden : !force;
  }
}
