"""Vector tiles of landslides and mapped extents, made by PostGIS in one query.

The tile's lon/lat box is computed here and passed as constants, matched
with `&&` against the GiST index on the geometry (GeoDjango creates it with
the field), so a tile of a 100,000-polygon inventory reads only the rows it
overlaps. Each tile carries at most `MAX_FEATURES` polygons, the largest
first, and leaves out polygons smaller than a few screen pixels at its zoom:
a zoomed-out map stays light and zooming in shows everything. Because the
box and the smallest area are constants, PostgreSQL can estimate how many
rows each index gives: at zooms 10 and 11 (almost every polygon under the
tile, few big enough to draw) it reads the big ones through the
(inventory, area) index instead of every polygon under the tile.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.db import connection

from inventories.models import Inventory, Landslide, MappedExtent, Project, Scene
from inventories.selectors.models import pre_event_partner
from mlcore.raster import (
    DEFAULT_COLORMAPS,
    PRESET_LABELS,
    SUGGESTED_COLORMAPS,
    available_presets,
    default_preset,
)

EXTENT = 4096
BUFFER = 64
MAX_FEATURES = 5000
# Below this on-screen size (in 256-pixel tile pixels) a polygon is not drawn.
MIN_PIXELS = 4.0
# Metres per 256-pixel tile pixel at zoom 0 on the equator (web mercator).
_M_PER_PIXEL_Z0 = 156_543.033_928


def min_area_m2(z: int) -> float:
    """The area under which a polygon would cover less than MIN_PIXELS pixels at zoom z.

    Web-mercator pixels shrink towards the poles, so this drops fewer polygons
    than it could away from the equator; it never drops a visible one.
    """
    side = _M_PER_PIXEL_Z0 / 2**z
    return MIN_PIXELS * side * side


def tile_lonlat_box(z: int, x: int, y: int) -> dict[str, float]:
    """The web-mercator tile's bounds in degrees (west, south, east, north), as SQL params."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return {
        "west": x / n * 360 - 180,
        "east": (x + 1) / n * 360 - 180,
        "north": lat(y),
        "south": lat(y + 1),
    }


_LANDSLIDES_SQL = f"""
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc
),
candidates AS (
    SELECT l.id, l.version, l.landslide_type, l.review_state, l.confidence, l.area_m2,
           l.geometry
    FROM inventories_landslide AS l
    WHERE l.inventory_id = %(inventory)s
      AND l.geometry && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
      AND l.area_m2 >= %(min_area)s
    ORDER BY l.area_m2 DESC
    LIMIT %(cap)s
),
rows AS (
    SELECT c.id, c.version, c.landslide_type AS type, c.review_state, c.confidence,
           round(c.area_m2::numeric, 1)::float8 AS area,
           ST_AsMVTGeom(ST_Transform(c.geometry, 3857), bounds.merc, {EXTENT}, {BUFFER}, true)
               AS geom
    FROM candidates AS c, bounds
)
SELECT ST_AsMVT(rows.*, 'landslides', {EXTENT}, 'geom', 'id')
FROM rows WHERE geom IS NOT NULL
"""

_EXTENTS_SQL = f"""
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc
),
rows AS (
    SELECT e.id, e.version, e.split, e.name,
           ST_AsMVTGeom(ST_Transform(e.geometry, 3857), bounds.merc, {EXTENT}, {BUFFER}, true)
               AS geom
    FROM inventories_mappedextent AS e, bounds
    WHERE e.inventory_id = %(inventory)s
      AND e.geometry && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
    ORDER BY e.id
    LIMIT %(cap)s
)
SELECT ST_AsMVT(rows.*, 'extents', {EXTENT}, 'geom', 'id')
FROM rows WHERE geom IS NOT NULL
"""


def landslide_tile(*, inventory: Inventory, z: int, x: int, y: int) -> bytes:
    """The inventory's landslides in tile z/x/y as Mapbox Vector Tile bytes (maybe empty).

    Layer `landslides`; feature id = landslide id; properties version, type,
    review_state, confidence, area (m²).
    """
    params = {
        "z": z,
        "x": x,
        "y": y,
        "inventory": inventory.pk,
        "min_area": min_area_m2(z),
        "cap": MAX_FEATURES,
        **tile_lonlat_box(z, x, y),
    }
    return _mvt(_LANDSLIDES_SQL, params)


def extent_tile(*, inventory: Inventory, z: int, x: int, y: int) -> bytes:
    """The inventory's mapped extents in tile z/x/y (layer `extents`; id, version, split, name)."""
    params = {"z": z, "x": x, "y": y, "inventory": inventory.pk, "cap": MAX_FEATURES}
    params.update(tile_lonlat_box(z, x, y))
    return _mvt(_EXTENTS_SQL, params)


def _mvt(sql: str, params: dict) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def map_layers(*, project: Project) -> dict:
    """What the map page offers: scenes with the presets each can show, inventories, bounds.

    Which presets a scene supports is decided here from its band names, so
    the page never offers a layer the tile endpoint would refuse.
    """
    scenes = []
    for scene in project.scenes.order_by("phase", "kind", "name"):
        (west, south, east, north) = scene.footprint.extent
        pair = None
        if scene.kind == Scene.Kind.OPTICAL and scene.phase == Scene.Phase.POST:
            partner = pre_event_partner(scene)
            pair = partner.pk if partner else None
        scenes.append(
            {
                "id": scene.pk,
                "name": scene.name,
                "kind": scene.kind,
                "phase": scene.phase,
                "acquired_on": scene.acquired_on.isoformat() if scene.acquired_on else None,
                "epsg": scene.epsg,
                "bands": scene.band_names,
                "presets": available_presets(scene.band_names, scene.kind),
                "defaultPreset": default_preset(scene.band_names, scene.kind),
                "colormap": DEFAULT_COLORMAPS.get(scene.kind) or "gray",
                "bounds": [[south, west], [north, east]],
                "pair": pair,
            }
        )
    inventories = [
        {"id": inv.pk, "name": inv.name, "kind": inv.kind}
        for inv in project.inventories.order_by("kind", "name")
    ]
    return {
        "project": {"id": project.pk, "name": project.name},
        "scenes": scenes,
        "inventories": inventories,
        "bounds": _project_bounds(project, scenes),
        "basemap": basemap(),
        "presetLabels": PRESET_LABELS,
        "colormaps": ["gray", *[c for c in SUGGESTED_COLORMAPS if c != "gray"]],
        "choices": {
            "landslide_type": Landslide.Type.choices,
            "certainty": Landslide.Certainty.choices,
            "review_state": Landslide.Review.choices,
            "split": MappedExtent.Split.choices,
        },
    }


def basemap() -> dict | None:
    """The operator's XYZ basemap (SCARP_BASEMAP_URL), or None: the maps then ask no one else."""
    if not settings.SCARP_BASEMAP_URL:
        return None
    return {
        "url": settings.SCARP_BASEMAP_URL,
        "attribution": settings.SCARP_BASEMAP_ATTRIBUTION,
        "maxZoom": settings.SCARP_BASEMAP_MAX_ZOOM,
    }


def _project_bounds(project: Project, scenes: list[dict]) -> list[list[float]] | None:
    """Where the map opens: the scenes, else the landslides, else the area of interest."""
    if scenes:
        south = min(s["bounds"][0][0] for s in scenes)
        west = min(s["bounds"][0][1] for s in scenes)
        north = max(s["bounds"][1][0] for s in scenes)
        east = max(s["bounds"][1][1] for s in scenes)
        return [[south, west], [north, east]]
    extent = Landslide.objects.filter(inventory__project=project).aggregate(e=Extent("geometry"))
    box = extent["e"] or (project.area_of_interest.extent if project.area_of_interest else None)
    if box is None:
        return None
    west, south, east, north = box
    return [[south, west], [north, east]]
