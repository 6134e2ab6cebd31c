// Model registry page: start training, follow it live, promote and retrain.
import { api, followJob } from "./api.js";

const status = document.querySelector("#registry-status");

async function follow(job, row) {
  await followJob(job.id, (j) => {
    if (!row) return;
    row.querySelector("progress").value = j.progress;
    row.querySelector(".state").textContent = j.state;
    row.querySelector(".message").textContent = j.error || j.message;
  }, 2000);
  window.location.reload();
}

for (const row of document.querySelectorAll("#train-jobs tr.state-queued, #train-jobs tr.state-running")) {
  follow({ id: row.dataset.job }, row);
}

const form = document.querySelector("#train-form");
if (form) {
  const places = JSON.parse(document.querySelector("#places-data").textContent);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const elevation = new Set(data.getAll("elevation").map(Number));
    const chosen = data.getAll("place").map(Number).map((i) => (elevation.has(i) ? places[i] : places[i].slice(0, 1)));
    const number = (name) => Number(data.get(name));
    const body = {
      project: Number(form.dataset.project),
      name: data.get("name"),
      arch: data.get("arch"),
      encoder: data.get("encoder"),
      places: chosen,
      inventories: data.getAll("inventory").map(Number),
      hyperparameters: {
        epochs: number("epochs"), chip_size: number("chip_size"),
        batch_size: number("batch_size"), chips_per_epoch: number("chips_per_epoch"),
      },
    };
    const line = form.querySelector(".status");
    const bar = form.querySelector("progress");
    line.className = "status";
    try {
      const job = await api("/api/models/", { method: "POST", body });
      bar.hidden = false;
      line.textContent = "Training queued…";
      await followJob(job.id, (j) => { bar.value = j.progress; line.textContent = j.error || j.message || j.state; }, 2000);
      window.location.reload();
    } catch (error) {
      line.textContent = error.message;
      line.className = "status error";
    }
  });
}

document.querySelector("#versions").addEventListener("click", async (event) => {
  const button = event.target.closest("button.promote, button.retrain");
  if (!button) return;
  button.disabled = true;
  const verb = button.classList.contains("promote") ? "promote" : "retrain";
  try {
    const result = await api(`/api/models/${button.dataset.version}/${verb}/`, { method: "POST" });
    if (verb === "promote") window.location.reload();
    else { status.textContent = `Retraining queued (job ${result.id}).`; window.location.reload(); }
  } catch (error) {
    status.textContent = error.message;
    status.className = "status error";
    button.disabled = false;
  }
});
