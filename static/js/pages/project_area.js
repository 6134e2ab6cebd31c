// The project page's small map: the area of interest and the scenes' footprints. An admin
// redraws the area (or drags its corners) over the footprints and saves it.
import { api, errorText } from "../lib/api.js";
import { pageConfig } from "../lib/page.js";
import { url } from "../lib/urls.js";
import { AreaPicker, showArea } from "../map/area.js";
import { createMap } from "../map/map.js";

const config = pageConfig("area-config");
const element = document.getElementById("area-map");
const tools = document.querySelector(".area-tools");

function bindEditing(map) {
  const save = tools.querySelector("[data-save-area]");
  const status = document.getElementById("area-status");
  const picker = new AreaPicker(map, {
    onChange: (geometry) => {
      save.disabled = !geometry;
      status.className = "status";
      status.textContent = geometry ? "Changed; not saved yet." : "";
    },
  });
  if (config.area) picker.load(config.area);
  for (const button of tools.querySelectorAll("[data-draw]")) {
    button.addEventListener("click", () => picker.draw(button.dataset.draw));
  }
  save.addEventListener("click", async () => {
    save.disabled = true;
    status.textContent = "Saving…";
    try {
      await api(url("project", { pk: tools.dataset.project }), {
        method: "PATCH", body: { area_of_interest: picker.geometry() },
      });
      status.textContent = "Area saved.";
      const none = document.getElementById("no-area");
      if (none) none.hidden = true;
    } catch (error) {
      status.textContent = `Not saved: ${errorText(error)}`;
      status.className = "status error";
      save.disabled = false;
    }
  });
  return picker;
}

if (element) {
  const map = createMap(element, { basemap: config.basemap });
  const footprints = showArea(map, tools ? { ...config, area: null } : config);
  if (tools) {
    const picker = bindEditing(map);
    const bounds = window.L.latLngBounds([]);
    if (footprints.getLayers().length) bounds.extend(footprints.getBounds());
    if (picker.layer) bounds.extend(picker.layer.getBounds());
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 16 });
  }
}
