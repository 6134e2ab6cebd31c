// The project page's small map: the area of interest and the scenes' footprints.
import { pageConfig } from "../lib/page.js";
import { showArea } from "../map/area.js";
import { createMap } from "../map/map.js";

const config = pageConfig("area-config");
const element = document.getElementById("area-map");
if (element && config.area) showArea(createMap(element, {}), config);
