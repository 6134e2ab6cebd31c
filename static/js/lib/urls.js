// The API's addresses, as the server names them: base.html renders the table (made with
// Django's reverse in inventories/url_templates.py), so no script writes a path by hand.
//
//   url("job", { pk: 7 })                      -> /api/jobs/7/
//   url("landslideTiles", { inventory_pk: 3 }) -> /api/inventories/3/tiles/{z}/{x}/{y}.mvt
//
// A placeholder not given stays as it is (Leaflet fills {z}, {x} and {y}).

let table = null;

function urls() {
  if (table === null) {
    const element = document.getElementById("api-urls");
    table = element ? JSON.parse(element.textContent) : {};
  }
  return table;
}

export function url(name, params = {}) {
  const template = urls()[name];
  if (template === undefined) throw new Error(`No API address named ${name} in the page.`);
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? encodeURIComponent(params[key]) : whole));
}
