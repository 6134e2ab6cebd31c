// The operator's optional basemap (SCARP_BASEMAP_URL): XYZ tiles under the imagery, with
// a switch on the map and its attribution as text. Without the setting the page adds
// nothing and asks no server but Scarp.

const L = window.L;

export function addBasemap(map, basemap) {
  if (!basemap) return null;
  map.createPane("basemap").style.zIndex = 150; // under the imagery (200)
  const layer = L.tileLayer(basemap.url, {
    pane: "basemap",
    maxNativeZoom: basemap.maxZoom,
    maxZoom: 24,
    className: "basemap-tile",
  }).addTo(map);

  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const box = L.DomUtil.create("div", "map-basemap");
    const label = document.createElement("label");
    const toggle = document.createElement("input");
    toggle.type = "checkbox";
    toggle.checked = true;
    toggle.id = "show-basemap";
    label.append(toggle, document.createTextNode(" Basemap"));
    const attribution = document.createElement("span");
    attribution.className = "map-basemap-attribution";
    attribution.textContent = basemap.attribution || "";
    box.append(label, attribution);
    toggle.addEventListener("change", () => {
      if (toggle.checked) layer.addTo(map);
      else layer.remove();
      attribution.hidden = !toggle.checked;
    });
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  control.addTo(map);
  return layer;
}
