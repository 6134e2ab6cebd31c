// The project page's team, for its admins: add a member, change a role, remove a member.
// The server keeps the rules (a project always keeps an admin); the page says what it answered.
import { api, errorText } from "../lib/api.js";
import { url } from "../lib/urls.js";

const table = document.querySelector("#team table.members");
const form = document.getElementById("member-form");
const status = document.getElementById("team-status");

function say(text, isError = false) {
  status.textContent = text;
  status.className = isError ? "status error" : "status";
}

if (table) {
  const project = table.dataset.project;
  const memberUrl = (row) => url("member", { project_pk: project, pk: row.dataset.member });
  const nameOf = (row) => row.cells[0].textContent;

  for (const row of table.tBodies[0].rows) {
    const select = row.querySelector("select[name=role]");
    let saved = select.value;
    select.addEventListener("change", async () => {
      try {
        await api(memberUrl(row), { method: "PATCH", body: { role: select.value } });
        saved = select.value;
        say(`${nameOf(row)} is now ${select.selectedOptions[0].textContent.toLowerCase()}.`);
      } catch (error) {
        select.value = saved; // the page shows what the server kept
        say(`${nameOf(row)} keeps their role: ${errorText(error)}`, true);
      }
    });
    row.querySelector("button.remove").addEventListener("click", async () => {
      if (!window.confirm(`Remove ${nameOf(row)} from the project?`)) return;
      try {
        await api(memberUrl(row), { method: "DELETE" });
        row.remove();
        say(`${nameOf(row)} is no longer in the project.`);
      } catch (error) {
        say(`${nameOf(row)} stays: ${errorText(error)}`, true);
      }
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(new FormData(form).entries());
    try {
      await api(url("members", { project_pk: project }), { method: "POST", body });
      window.location.reload(); // the team as the server has it now
    } catch (error) {
      say(`${body.username} was not added: ${errorText(error)}`, true);
    }
  });
}
