// Model registry page: start training or pretraining, follow it live, promote, retrain,
// cancel a training and delete a version whose training failed or was cancelled.
import { api, followJob } from "../lib/api.js";
import { cancelJobAfterAsking, confirmInPage } from "../lib/confirm.js";
import { jobTiming } from "../lib/text.js";
import { url } from "../lib/urls.js";

const status = document.querySelector("#registry-status");

async function follow(job, row) {
  await followJob(job.id, (j) => {
    if (!row) return;
    row.querySelector("progress").value = j.progress;
    row.querySelector(".state").textContent = j.state_label;
    row.querySelector(".message").textContent = j.error || j.message;
    const timing = row.querySelector(".timing");
    if (timing) timing.textContent = jobTiming(j);
  }, 2000);
  window.location.reload();
}

for (const row of document.querySelectorAll("#train-jobs tr.state-queued, #train-jobs tr.state-running")) {
  follow({ id: row.dataset.job }, row);
}

// A training that starts from a pretraining must build the same network: choosing one sets
// the form's architecture, encoder, depth and width to its own.
const pretrainedSelect = document.querySelector("#train-form select[name=pretrained]");
pretrainedSelect?.addEventListener("change", () => {
  const option = pretrainedSelect.selectedOptions[0];
  if (!option.value) return;
  const trainForm = pretrainedSelect.form;
  trainForm.elements.arch.value = option.dataset.arch;
  trainForm.elements.encoder.value = option.dataset.encoder;
  if (option.dataset.encoderDepth) trainForm.elements.encoder_depth.value = option.dataset.encoderDepth;
  if (option.dataset.baseChannels) trainForm.elements.base_channels.value = option.dataset.baseChannels;
  trainForm.elements.arch.dispatchEvent(new Event("change"));
});

// Each model family's traits by name (mlcore's registry): whether it takes a post,pre pair.
const { families, places } = JSON.parse(document.querySelector("#models-config").textContent);
const takesPairs = (arch) => families[arch]?.inputs === "pair";

// The ticked places as the scenes to stack. A change-detection model sees each post-event
// scene with its pre-event partner and no elevation (the network splits the bands into two dates).
function chosenPlaces(data) {
  const elevation = new Set(data.getAll("elevation").map(Number));
  const change = takesPairs(data.get("arch"));
  return data.getAll("place").map(Number).map((i) => {
    const place = places[i];
    if (change) return place.pre ? [place.post, place.pre] : [place.post];
    return elevation.has(i) ? [place.post, ...place.dem] : [place.post];
  });
}

function showPairs(form) {
  const change = takesPairs(form.elements.arch.value);
  for (const el of form.querySelectorAll("[data-role=pair]")) el.hidden = !change;
  for (const el of form.querySelectorAll("[data-role=elevation]")) el.hidden = change;
}

// The settings both forms share: the network and the epochs.
function commonSettings(data) {
  const number = (name) => Number(data.get(name));
  return {
    epochs: number("epochs"), chip_size: number("chip_size"),
    batch_size: number("batch_size"), chips_per_epoch: number("chips_per_epoch"),
    encoder_depth: number("encoder_depth"), base_channels: number("base_channels"),
  };
}

// Send the form's request, then follow the job on the form and reload when it ends.
function onSubmit(form, url, queued, body) {
  form.elements.arch.addEventListener("change", () => showPairs(form));
  showPairs(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const line = form.querySelector(".status");
    const bar = form.querySelector("progress");
    line.className = "status";
    try {
      const job = await api(url, { method: "POST", body: body(new FormData(form)) });
      bar.hidden = false;
      line.textContent = queued;
      await followJob(job.id, (j) => { bar.value = j.progress; line.textContent = j.error || j.message || j.state; }, 2000);
      window.location.reload();
    } catch (error) {
      line.textContent = error.message;
      line.className = "status error";
    }
  });
}

const form = document.querySelector("#train-form");
if (form) {
  onSubmit(form, url("models"), "Training queued…", (data) => ({
    project: Number(form.dataset.project),
    name: data.get("name"),
    arch: data.get("arch"),
    encoder: data.get("encoder"),
    places: chosenPlaces(data),
    inventories: data.getAll("inventory").map(Number),
    pretrained: data.get("pretrained") ? Number(data.get("pretrained")) : null,
    hyperparameters: { ...commonSettings(data), scale: Number(data.get("scale")), recipe: data.get("recipe") },
  }));
}

document.querySelector("#versions").addEventListener("click", async (event) => {
  const button = event.target.closest("button.promote, button.retrain");
  if (!button) return;
  button.disabled = true;
  const verb = button.classList.contains("promote") ? "promote" : "retrain";
  try {
    const result = await api(url(verb === "promote" ? "modelPromote" : "modelRetrain", { pk: button.dataset.version }), { method: "POST" });
    if (verb === "promote") window.location.reload();
    else { status.textContent = `Retraining queued (job ${result.id}).`; window.location.reload(); }
  } catch (error) {
    status.textContent = error.message;
    status.className = "status error";
    button.disabled = false;
  }
});

// Cancel a version's training with the jobs page's question and call (lib/confirm.js); the
// version shows as cancelled once its job has ended. Delete a failed or cancelled version,
// asked first too. Names come from data attributes and are shown as text.
function showError(error) {
  status.textContent = error.message;
  status.className = "status error";
}

document.querySelector("#versions").addEventListener("click", async (event) => {
  const button = event.target.closest("button.cancel");
  if (!button) return;
  button.disabled = true;
  try {
    const { job: id, kind, state } = button.dataset;
    const job = await cancelJobAfterAsking({ id, kind, state });
    if (!job) { button.disabled = false; return; }
    status.className = "status";
    status.textContent = `Cancelling job ${job.id}: it stops at its next check.`;
    await followJob(job.id, () => {}, 1000);
    window.location.reload();
  } catch (error) {
    showError(error);
    button.disabled = false;
  }
});

document.querySelector("#versions").addEventListener("click", async (event) => {
  const button = event.target.closest("button.delete");
  if (!button) return;
  const { version, name, status: label } = button.dataset;
  const asked = await confirmInPage({
    title: "Delete this version?",
    text: `${name} (${label.toLowerCase()}) and its files are deleted; this cannot be undone.`,
    keep: "Keep it",
    go: "Delete the version",
  });
  if (!asked) return;
  button.disabled = true;
  try {
    await api(url("modelDiscard", { pk: version }), { method: "POST" });
    button.closest("tr").remove();
    status.className = "status";
    status.textContent = `Deleted ${name}.`;
  } catch (error) {
    showError(error);
    button.disabled = false;
  }
});

// Pretraining form: the same scenes (no labels), a method and its one setting.
const pretrainForm = document.querySelector("#pretrain-form");
if (pretrainForm) {
  const showMethod = () => {
    for (const el of pretrainForm.querySelectorAll("[data-method]")) {
      el.hidden = el.dataset.method !== pretrainForm.elements.method.value;
    }
  };
  pretrainForm.elements.method.addEventListener("change", showMethod);
  showMethod();
  onSubmit(pretrainForm, url("modelPretrain"), "Pretraining queued…", (data) => {
    const method = data.get("method");
    const setting = method === "masked" ? "mask_ratio" : "noise_std";
    return {
      project: Number(pretrainForm.dataset.project),
      name: data.get("name"),
      method,
      arch: data.get("arch"),
      encoder: data.get("encoder"),
      places: chosenPlaces(data),
      hyperparameters: { ...commonSettings(data), [setting]: Number(data.get(setting)) },
    };
  });
}
