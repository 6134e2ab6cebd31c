// WGS84 longitude/latitude to UTM easting/northing, for the pointer's coordinates.
//
// Krüger's series in the third flattening n (as in Karney 2011, to n^4), which stays
// within a millimetre of the exact transverse Mercator across a zone and well beyond
// it; tests/browser/test_map_coordinates.py compares it with pyproj. No proj4js is
// vendored, and the map only needs this one projection family.

const A_AXIS = 6378137;
const F = 1 / 298.257223563;
const K0 = 0.9996;
const N = F / (2 - F);
const RECTIFYING = (A_AXIS / (1 + N)) * (1 + (N ** 2) / 4 + (N ** 4) / 64);
const ALPHA = [
  N / 2 - (2 / 3) * N ** 2 + (5 / 16) * N ** 3 + (41 / 180) * N ** 4,
  (13 / 48) * N ** 2 - (3 / 5) * N ** 3 + (557 / 1440) * N ** 4,
  (61 / 240) * N ** 3 - (103 / 140) * N ** 4,
  (49561 / 161280) * N ** 4,
];
const E = Math.sqrt(F * (2 - F)); // first eccentricity

// The EPSG code of WGS84 / UTM zone `zone`, north (326xx) or south (327xx).
export function utmEpsg(zone, south) {
  return (south ? 32700 : 32600) + zone;
}

// [zone, south] of an EPSG code of WGS84 / UTM, or null for any other code.
export function utmZoneOf(epsg) {
  if (epsg >= 32601 && epsg <= 32660) return [epsg - 32600, false];
  if (epsg >= 32701 && epsg <= 32760) return [epsg - 32700, true];
  return null;
}

// The UTM zone a point lies in, with the Norway and Svalbard exceptions.
export function zoneOfPoint(lat, lon) {
  const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180;
  let zone = Math.min(60, Math.floor((wrapped + 180) / 6) + 1);
  if (lat >= 56 && lat < 64 && wrapped >= 3 && wrapped < 12) zone = 32;
  if (lat >= 72 && lat < 84) {
    if (wrapped >= 0 && wrapped < 9) zone = 31;
    else if (wrapped >= 9 && wrapped < 21) zone = 33;
    else if (wrapped >= 21 && wrapped < 33) zone = 35;
    else if (wrapped >= 33 && wrapped < 42) zone = 37;
  }
  return utmEpsg(zone, lat < 0);
}

// { easting, northing } in metres of (lat, lon) in degrees in the UTM zone of `epsg`
// (WGS84 / UTM only: 326xx or 327xx), the zone's false easting and northing included.
export function toUtm(lat, lon, epsg) {
  const zoneSouth = utmZoneOf(epsg);
  if (!zoneSouth) throw new Error(`EPSG:${epsg} is not a WGS84 UTM zone.`);
  const [zone, south] = zoneSouth;
  const centralMeridian = zone * 6 - 183;
  let dLon = lon - centralMeridian;
  dLon = ((((dLon + 180) % 360) + 360) % 360) - 180;
  const phi = (lat * Math.PI) / 180;
  const lambda = (dLon * Math.PI) / 180;
  const sinPhi = Math.sin(phi);
  const t = Math.sinh(Math.atanh(sinPhi) - E * Math.atanh(E * sinPhi));
  const xiPrime = Math.atan2(t, Math.cos(lambda));
  const etaPrime = Math.atanh(Math.sin(lambda) / Math.sqrt(1 + t * t));
  let xi = xiPrime;
  let eta = etaPrime;
  ALPHA.forEach((alpha, i) => {
    const j = 2 * (i + 1);
    xi += alpha * Math.sin(j * xiPrime) * Math.cosh(j * etaPrime);
    eta += alpha * Math.cos(j * xiPrime) * Math.sinh(j * etaPrime);
  });
  return {
    easting: 500000 + K0 * RECTIFYING * eta,
    northing: (south ? 10000000 : 0) + K0 * RECTIFYING * xi,
  };
}

// "E 470123 N 3444567 (EPSG:32647)": whole metres, as a surveyor reads them.
export function formatUtm(lat, lon, epsg) {
  const { easting, northing } = toUtm(lat, lon, epsg);
  return `E ${Math.round(easting)} N ${Math.round(northing)} (EPSG:${epsg})`;
}
