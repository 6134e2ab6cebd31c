// "Go to #id": find a landslide of this project by its id, fit the map to it and select it.
// An id the project does not hold (unknown, or another project's) is said in the status
// line and the map stays where it was.

import { api, errorText } from "../../lib/api.js";
import { url } from "../../lib/urls.js";

const L = window.L;

export function bindGoTo({ form, map, editor, config, say, chooseInventory }) {
  const input = form.querySelector("input");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim().replace(/^#/, "");
    if (!/^\d+$/.test(text)) {
      say(`"${text}" is not a landslide id: type its number, for example 42.`, true);
      return;
    }
    const id = Number(text);
    const notHere = () => say(`${config.project.name} has no landslide #${id}; the map stays where it was.`, true);
    let feature;
    try {
      feature = await api(url("landslide", { pk: id }));
    } catch (error) {
      if (error.status === 404) notHere();
      else say(`Could not look up landslide #${id}: ${errorText(error)}.`, true);
      return;
    }
    // A member of several projects can read another project's landslide: not this map's.
    const inventory = config.inventories.find((inv) => inv.id === feature.properties.inventory);
    if (!inventory) {
      notHere();
      return;
    }
    chooseInventory(inventory.id);
    editor.setTarget("landslide");
    map.fitBounds(L.geoJSON(feature).getBounds(), { padding: [40, 40], maxZoom: 20 });
    await editor.pick("landslide", id);
    say(`Landslide #${id} of ${inventory.name}.`);
    map.getContainer().focus({ preventScroll: true });
  });
}
