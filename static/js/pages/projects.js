// The projects page's "New project" form: the area of interest is drawn on the small map
// (or typed as bounds), the API makes the project (its creator becomes its admin), then the
// browser goes to the new project's page.
import { api, errorText } from "../lib/api.js";
import { pageConfig } from "../lib/page.js";
import { url } from "../lib/urls.js";
import { AreaPicker } from "../map/area.js";
import { createMap } from "../map/map.js";

const form = document.getElementById("project-form");

function bindArea() {
  const bounds = [...form.querySelectorAll("[data-bound]")];
  const said = form.querySelector("#area-status");
  const picker = new AreaPicker(createMap(document.getElementById("area-map"), {
    basemap: pageConfig("area-config").basemap,
  }), {
    onChange: (geometry) => {
      const box = picker.bounds();
      bounds.forEach((input, i) => { input.value = box ? box[i].toFixed(5) : ""; });
      said.textContent = geometry ? "Area drawn; drag its corners to adjust it." : "No area (it is optional).";
    },
  });
  for (const button of form.querySelectorAll("[data-draw]")) {
    button.addEventListener("click", () => picker.draw(button.dataset.draw));
  }
  form.querySelector("[data-clear]").addEventListener("click", () => picker.clear());
  form.querySelector("[data-set-bounds]").addEventListener("click", () => {
    const box = bounds.map((input) => Number.parseFloat(input.value));
    if (box.some(Number.isNaN)) {
      said.textContent = "Type all four bounds (west, south, east, north) in degrees.";
      return;
    }
    picker.setBounds(box);
  });
  return picker;
}

if (form) {
  const picker = bindArea();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector(".status");
    const body = Object.fromEntries(
      [...new FormData(form).entries()].filter(([, value]) => value !== ""),
    );
    const area = picker.geometry();
    if (area) body.area_of_interest = area;
    status.className = "status";
    status.textContent = "Creating…";
    try {
      const project = await api(url("projects"), { method: "POST", body });
      window.location.assign(url("projectPage", { pk: project.id }));
    } catch (error) {
      status.textContent = `Not created: ${errorText(error)}`;
      status.className = "status error";
    }
  });
}
