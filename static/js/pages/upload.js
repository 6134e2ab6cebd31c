// Upload forms: send the file with a progress bar, then follow the import job.
import { csrfToken, followJob } from "../lib/api.js";

function send(form, url) {
  const bar = form.querySelector("progress");
  const status = form.querySelector(".status");
  const data = new FormData(form);
  for (const [key, value] of [...data.entries()]) {
    if (value === "") data.delete(key);
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", url);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  bar.hidden = false;
  bar.value = 0;
  status.className = "status";
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) {
      bar.value = event.loaded / event.total;
      status.textContent = `Uploading… ${Math.round((100 * event.loaded) / event.total)}%`;
    }
  };
  xhr.onerror = () => {
    status.textContent = "The upload failed: the server could not be reached. Try again.";
    status.className = "status error";
  };
  xhr.onload = async () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { body = null; }
    if (xhr.status !== 202) {
      status.textContent = (body && (body.detail || JSON.stringify(body))) || `Error ${xhr.status}`;
      status.className = "status error";
      bar.hidden = true;
      return;
    }
    status.textContent = "Uploaded; processing…";
    const job = await followJob(body.id, (j) => {
      bar.value = j.progress;
      status.textContent = `${j.message || j.state} (${Math.round(100 * j.progress)}%)`;
    });
    if (job.state === "succeeded") {
      status.textContent = "Done. Reloading…";
      window.location.reload();
    } else {
      status.textContent = job.error || `The job ended: ${job.state}.`;
      status.className = "status error";
    }
  };
  xhr.send(data);
}

for (const form of document.querySelectorAll("form.upload")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, form.dataset.uploadUrl);
  });
}
