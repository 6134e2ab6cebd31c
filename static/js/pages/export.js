// Export links whose file is made by a job (a large inventory, a model as ONNX): the server
// answers with the job (202); follow it, then offer the file. Other links are plain downloads.
import { api, followJob } from "../lib/api.js";

async function exportInBackground(link) {
  const status = link.parentElement.querySelector(".export-status");
  status.className = "export-status";
  status.textContent = `${link.dataset.export}: starting the export…`;
  let job;
  try {
    job = await api(link.getAttribute("href"));
  } catch (error) {
    status.textContent = `${link.dataset.export}: ${error.message}`;
    status.className = "export-status error";
    return;
  }
  if (!job || job.id === undefined) {
    // Made by someone else since the page was drawn: the link gives the file itself now.
    status.textContent = "";
    window.location.assign(link.href);
    return;
  }
  job = await followJob(job.id, (j) => {
    status.textContent = `${link.dataset.export}: ${j.message || j.state} (${Math.round(100 * j.progress)}%)`;
  });
  if (job.state !== "succeeded") {
    status.textContent = `${link.dataset.export}: ${job.error || `the export ended ${job.state}`}`;
    status.className = "export-status error";
    return;
  }
  status.textContent = "";
  const ready = document.createElement("a");
  ready.href = job.result.download;
  ready.className = "export-ready";
  ready.setAttribute("download", job.result.filename);
  ready.textContent = `Download ${link.dataset.export} (${job.result.filename})`;
  status.append(ready);
}

for (const link of document.querySelectorAll("a[data-export][data-background]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    exportInBackground(link);
  });
}
