// User-chosen strings (scene, inventory, report names...) are text everywhere.
// Leaflet's layer control and popups take HTML, so a name goes through
// escapeHtml before it is handed to them; everything else uses textContent.

export function escapeHtml(text) {
  const holder = document.createElement("span");
  holder.textContent = String(text ?? "");
  return holder.innerHTML.replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

// An element holding `lines` as text, one per line: safe content for a popup.
export function textLines(lines) {
  const box = document.createElement("div");
  lines.forEach((line, i) => {
    if (i) box.append(document.createElement("br"));
    box.append(document.createTextNode(String(line)));
  });
  return box;
}

// A duration as a person reads it: "42 s", "3 min 20 s", "1 h 5 min".
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// How long a job has run and, while it runs, about how long it has left (the server's
// straight-line estimate from its progress; absent until there is enough progress).
export function jobTiming(job) {
  if (job.elapsed_seconds === null || job.elapsed_seconds === undefined) return "";
  const ran = ["queued", "running"].includes(job.state) ? "running for" : "took";
  let text = `${ran} ${duration(job.elapsed_seconds)}`;
  if (job.eta_seconds !== null && job.eta_seconds !== undefined) {
    text += `, about ${duration(job.eta_seconds)} left`;
  }
  return text;
}
