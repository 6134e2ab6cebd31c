// Model page: start a prediction and follow it to the predicted inventory.
import { api, followJob } from "../lib/api.js";
import { url } from "../lib/urls.js";

const form = document.querySelector("#predict-form");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const line = form.querySelector(".status");
    const bar = form.querySelector("progress");
    const body = {
      scenes: String(data.get("place")).split(",").map(Number),
      min_area_m2: Number(data.get("min_area_m2") || 0),
      split: data.get("split") === "on",
    };
    if (data.get("threshold")) body.threshold = Number(data.get("threshold"));
    line.className = "status";
    try {
      const job = await api(url("modelPredict", { pk: form.dataset.version }), { method: "POST", body });
      bar.hidden = false;
      const done = await followJob(job.id, (j) => {
        bar.value = j.progress;
        line.textContent = j.error || j.message || j.state;
      }, 1500);
      if (done.state === "succeeded") {
        // The message leads on to the work it made: the review of the new inventory.
        const link = document.createElement("a");
        link.href = url("reviewPage", { pk: form.dataset.project, inventory_pk: done.result.inventory_id });
        link.textContent = "Review them";
        line.replaceChildren(`${done.result.landslides} landslides predicted into a new inventory ready for review. `, link);
      } else {
        line.textContent = done.error || `The job ended: ${done.state}.`;
        line.className = "status error";
      }
    } catch (error) {
      line.textContent = error.message;
      line.className = "status error";
    }
  });
}
