// The map itself: no internet base map unless the operator configured one (basemap.js;
// otherwise everything is served by Scarp), a metric scale bar, and the coordinates
// under the cursor.

import { addBasemap } from "./basemap.js";
import { PointerCoordinates } from "./pointer.js";

const L = window.L;

export function createMap(element, config) {
  const map = L.map(element, {
    maxZoom: 24,
    zoomSnap: 1,
    // A mouse wheel notch (100 px in Chromium and Firefox) is one zoom level; at Leaflet's
    // default of 60 px per level it rounded up to two.
    wheelPxPerZoomLevel: 120,
    boxZoom: true,
    attributionControl: false,
    preferCanvas: false,
  });
  L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
  if (config.bounds) map.fitBounds(config.bounds, { maxZoom: 19 });
  else map.setView([0, 0], 2);
  map.basemap = addBasemap(map, config.basemap);
  map.pointer = new PointerCoordinates(map, document.getElementById("cursor"));
  return map;
}
