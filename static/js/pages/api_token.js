// The project page's "Show my API token": the key QGIS and GDAL sign in with, as the Basic
// password. Asked for on a click (a POST, made on first use), never printed into the page.
import { api } from "../lib/api.js";
import { url } from "../lib/urls.js";

const show = document.getElementById("show-token");
const renew = document.getElementById("renew-token");
const shown = document.getElementById("api-token");
const status = document.getElementById("token-status");

async function ask(body) {
  status.textContent = "";
  try {
    const { token } = await api(url("myToken"), { method: "POST", body });
    shown.textContent = token;
    shown.hidden = false;
    renew.hidden = false;
    status.textContent = body.renew ? "A new token: the old one no longer works." : "";
  } catch (error) {
    status.textContent = `Could not get your token: ${error.message}`;
  }
}

if (show) {
  show.addEventListener("click", () => ask({}));
  renew.addEventListener("click", () => {
    if (window.confirm("Replace your API token? Every GIS connection using the old one stops working.")) {
      ask({ renew: true });
    }
  });
}
