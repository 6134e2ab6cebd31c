// User-chosen strings (scene, inventory, report names...) are text everywhere.
// Leaflet's layer control and popups take HTML, so a name goes through
// escapeHtml before it is handed to them; everything else uses textContent.

export function escapeHtml(text) {
  const holder = document.createElement("span");
  holder.textContent = String(text ?? "");
  return holder.innerHTML.replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

// An element holding `lines` as text, one per line: safe content for a popup.
export function textLines(lines) {
  const box = document.createElement("div");
  lines.forEach((line, i) => {
    if (i) box.append(document.createElement("br"));
    box.append(document.createTextNode(String(line)));
  });
  return box;
}
