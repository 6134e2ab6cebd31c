// The map's legend: one swatch per style, drawn by the same style function the map
// draws its polygons with (tiles.js), so the legend cannot drift from the map.

const L = window.L;
const SVG = "http://www.w3.org/2000/svg";

// A 22 x 14 swatch of a Leaflet path style: its stroke, dashes and fill.
function swatch(style) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  const rect = document.createElementNS(SVG, "rect");
  const attributes = {
    x: 1.5, y: 1.5, width: 19, height: 11,
    stroke: style.stroke === false ? "none" : style.color,
    "stroke-width": Math.min(style.weight ?? 3, 3),
    "stroke-dasharray": style.dashArray || "none",
    fill: style.fill === false ? "none" : style.fillColor || style.color,
    "fill-opacity": style.fillOpacity ?? 0.2,
  };
  for (const [key, value] of Object.entries(attributes)) rect.setAttribute(key, String(value));
  svg.append(rect);
  return svg;
}

// groups: [{ title, entries: [{ label, style }] }]; every label is set as text.
export function addLegend(map, groups, { position = "bottomright" } = {}) {
  const control = L.control({ position });
  control.onAdd = () => {
    const box = L.DomUtil.create("details", "map-legend");
    box.open = true;
    const summary = document.createElement("summary");
    summary.textContent = "Legend";
    box.append(summary);
    for (const group of groups) {
      const heading = document.createElement("h3");
      heading.textContent = group.title;
      const list = document.createElement("ul");
      for (const { label, style, key } of group.entries) {
        const item = document.createElement("li");
        if (key) item.dataset.key = key;
        const text = document.createElement("span");
        text.textContent = label;
        item.append(swatch(style), text);
        list.append(item);
      }
      box.append(heading, list);
    }
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    return box;
  };
  control.addTo(map);
  return control;
}
