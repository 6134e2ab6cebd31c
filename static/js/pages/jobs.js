// Jobs page: refresh active rows with live progress; cancel buttons that ask first.
import { api } from "../lib/api.js";
import { jobTiming } from "../lib/text.js";
import { url } from "../lib/urls.js";

const table = document.querySelector("#jobs");
const project = table.dataset.project;

function render(row, job) {
  row.className = `state-${job.state}`;
  row.querySelector(".state").textContent = job.state_label; // the words the page was drawn with
  row.querySelector("progress").value = job.progress;
  row.querySelector(".percent").textContent = `${Math.round(job.progress * 100)}%`;
  row.querySelector(".message").textContent = job.error || job.message;
  row.querySelector(".timing").textContent = jobTiming(job);
  const cancel = row.querySelector("button.cancel");
  if (cancel && !["queued", "running"].includes(job.state)) cancel.remove();
}

// Active rows every refresh; every row once at load, for the time each job took.
async function refresh(all = false) {
  const active = [...table.querySelectorAll(all ? "tr[data-job]" : "tr.state-queued, tr.state-running")];
  if (active.length === 0) return;
  const page = await api(`${url("jobs")}?project=${project}&limit=200`);
  const byId = new Map(page.results.map((job) => [String(job.id), job]));
  for (const row of active) {
    const job = byId.get(row.dataset.job);
    if (job) render(row, job);
  }
}

// A cancelled training cannot be taken back, and the button sits one row from the next
// job's: ask in the page before cancelling. Esc or "Keep it running" leaves the job alone.
const dialog = document.querySelector("#cancel-dialog");

function confirmCancel(row) {
  const state = row.querySelector(".state").textContent.trim().toLowerCase();
  dialog.querySelector("#cancel-text").textContent =
    `Job ${row.dataset.job} (${row.dataset.kind}) is ${state}. Cancelling stops it at its next check and it ends as cancelled.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "cancel"), { once: true });
  });
}

table.addEventListener("click", async (event) => {
  const button = event.target.closest("button.cancel");
  if (!button) return;
  if (!(await confirmCancel(button.closest("tr")))) return;
  button.disabled = true;
  try {
    const job = await api(url("jobCancel", { pk: button.dataset.job }), { method: "POST" });
    render(button.closest("tr"), job);
  } catch (error) {
    button.disabled = false;
    alert(error.message);
  }
});

refresh(true);
setInterval(refresh, 1500);
