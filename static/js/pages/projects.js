// The projects page's "New project" form: the API makes the project (its creator becomes
// its admin), then the browser goes to the new project's page.
import { api, errorText } from "../lib/api.js";
import { url } from "../lib/urls.js";

const form = document.getElementById("project-form");

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector(".status");
    const body = Object.fromEntries(
      [...new FormData(form).entries()].filter(([, value]) => value !== ""),
    );
    status.className = "status";
    status.textContent = "Creating…";
    try {
      const project = await api(url("projects"), { method: "POST", body });
      window.location.assign(url("projectPage", { pk: project.id }));
    } catch (error) {
      status.textContent = `Not created: ${errorText(error)}`;
      status.className = "status error";
    }
  });
}
