// Jobs page: refresh active rows with live progress; cancel buttons that ask first (lib/confirm.js).
import { api } from "../lib/api.js";
import { cancelJobAfterAsking } from "../lib/confirm.js";
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

table.addEventListener("click", async (event) => {
  const button = event.target.closest("button.cancel");
  if (!button) return;
  const row = button.closest("tr");
  const asked = { id: row.dataset.job, kind: row.dataset.kind, state: row.querySelector(".state").textContent.trim() };
  button.disabled = true;
  try {
    const job = await cancelJobAfterAsking(asked);
    if (job) render(row, job); // a running job stops at its next check: the button stays off
    else button.disabled = false;
  } catch (error) {
    button.disabled = false;
    alert(error.message);
  }
});

refresh(true);
setInterval(refresh, 1500);
