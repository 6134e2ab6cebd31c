// The coordinates under the pointer: geographic, and projected in the shown scene's
// UTM zone (its EPSG code) or, with no scene or a scene in another CRS, in the zone
// the point lies in, so that a distance read off the map is in metres.

import { formatUtm, utmZoneOf, zoneOfPoint } from "./utm.js";

export class PointerCoordinates {
  constructor(map, element) {
    this.map = map;
    this.element = element;
    this.epsg = null; // the scene's UTM zone, when it has one
    if (!element) return;
    map.on("mousemove", (event) => this.show(event.latlng));
    map.on("mouseout", () => {
      element.textContent = "";
    });
  }

  // The scene now shown under the pointer (imagery.js calls this when it changes).
  setScene(scene) {
    this.epsg = scene && utmZoneOf(scene.epsg) ? scene.epsg : null;
  }

  show({ lat, lng }) {
    const epsg = this.epsg ?? zoneOfPoint(lat, lng);
    const projected = Math.abs(lat) <= 84 ? ` · ${formatUtm(lat, lng, epsg)}` : "";
    this.element.textContent = `${lat.toFixed(6)}°, ${lng.toFixed(6)}°${projected} · z${this.map.getZoom()}`;
  }
}
