// Small helpers for talking to Scarp's API from a page (session auth + CSRF).
import { url } from "./urls.js";

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.detail) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

// What went wrong, in words: a refused field's messages, the server's detail, or that it
// could not be reached (fetch rejects without a status).
export function errorText(error) {
  const data = error.data;
  if (data && typeof data === "object" && !data.detail) {
    const parts = Object.entries(data).map(([field, value]) => `${field}: ${[].concat(value).join(" ")}`);
    if (parts.length) return parts.join("; ");
  }
  if (error.status === undefined) return "the server could not be reached";
  return error.message;
}

// Follow a job until it ends; onUpdate gets each fresh state.
export async function followJob(jobId, onUpdate, intervalMs = 1000) {
  for (;;) {
    const job = await api(url("job", { pk: jobId }));
    onUpdate(job);
    if (!["queued", "running"].includes(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
