// Asking in the page before what cannot be taken back: cancelling a job, deleting a version.
// One dialog (templates/inventories/_confirm_dialog.html) for every page; its words are set
// as text, so a version's name is never read as markup. Esc or the first button keeps things.
import { api } from "./api.js";
import { url } from "./urls.js";

export function confirmInPage({ title, text, keep, go }) {
  const dialog = document.querySelector("#confirm-dialog");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector("button[value=keep]").textContent = keep;
  dialog.querySelector("button[value=go]").textContent = go;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "go"), { once: true });
  });
}

// A cancelled training cannot be taken back, and a Cancel button sits one row from the next
// job's: ask, then cancel. The job as the server now has it, or null when the user kept it.
export async function cancelJobAfterAsking({ id, kind, state }) {
  const asked = await confirmInPage({
    title: "Cancel this job?",
    text: `Job ${id} (${kind}) is ${state.toLowerCase()}. Cancelling stops it at its next check and it ends as cancelled.`,
    keep: "Keep it running",
    go: "Cancel the job",
  });
  if (!asked) return null;
  return api(url("jobCancel", { pk: id }), { method: "POST" });
}
