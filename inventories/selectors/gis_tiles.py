"""TileJSON 3.0 and OGC WMTS descriptions of the tiles Scarp already serves.

The XYZ endpoints (`/api/scenes/{id}/tiles/...`, `/api/inventories/{id}/tiles/...`)
are what a browser map reads; QGIS, GDAL and MapLibre want a document that says
where the tiles are, how far they zoom and what they hold. Everything here is
computed from the scene's stored metadata (footprint, size, bands), so
describing a scene never opens its file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import morecantile
import shapely
from django.contrib.gis.db.models import Extent
from pyproj import Geod, Transformer

from inventories.errors import InvalidInput, NotFound
from inventories.models import Inventory, Scene
from inventories.selectors.projects import projects_for_user
from mlcore.raster import render

TILEJSON_VERSION = "3.0.0"
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
_GEOD = Geod(ellps="WGS84")
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
# Metres per pixel of a 256-pixel tile at zoom 0 on the equator.
_M_PER_PIXEL_Z0 = 156_543.033_928
TILE = 256


@dataclass(frozen=True)
class ZoomRange:
    minzoom: int
    maxzoom: int


def scene_zooms(scene: Scene) -> ZoomRange:
    """The web-mercator zooms worth asking for: from the whole scene in one tile to its pixels.

    The ground pixel size comes from the footprint's geodesic area over the
    pixel count, so it holds for any CRS the scene was stored in.
    """
    area, _ = _GEOD.geometry_area_perimeter(_shapely(scene.footprint))
    pixel_m = math.sqrt(abs(area) / max(scene.width * scene.height, 1))
    latitude = scene.footprint.centroid.y
    ground_z0 = _M_PER_PIXEL_Z0 * math.cos(math.radians(latitude))
    maxzoom = math.ceil(math.log2(ground_z0 / max(pixel_m, 1e-6)))
    maxzoom = min(max(maxzoom, render.MIN_ZOOM), render.MAX_ZOOM)
    # The whole scene fits one tile `levels` zooms out; two more still show it as a patch.
    levels = math.ceil(math.log2(max(scene.width, scene.height, TILE) / TILE)) + 2
    return ZoomRange(minzoom=max(maxzoom - levels, render.MIN_ZOOM), maxzoom=maxzoom)


def _shapely(geometry):
    return shapely.from_wkb(bytes(geometry.wkb))


def scene_get(*, user, pk: int) -> Scene:
    """A scene of one of the user's projects, or NotFound (as if it did not exist)."""
    scene = Scene.objects.filter(project__in=projects_for_user(user), pk=pk).first()
    if scene is None:
        raise NotFound("No such scene.")
    return scene


def scene_presets(scene: Scene) -> list[str]:
    return render.available_presets(scene.band_names, scene.kind)


def _check_preset(scene: Scene, preset: str | None) -> str:
    presets = scene_presets(scene)
    if not preset:
        return presets[0]
    if preset not in presets:
        raise InvalidInput(
            f"{scene.name} has no preset {preset!r}; its presets are {', '.join(presets)}."
        )
    return preset


def scene_tilejson(*, scene: Scene, tiles_url: str, preset: str | None) -> dict[str, Any]:
    """TileJSON 3.0 of one scene in one preset; `presets` names the others' documents.

    `tiles_url` is the absolute `.../tiles/` prefix of the scene's XYZ endpoint.
    """
    chosen = _check_preset(scene, preset)
    zooms = scene_zooms(scene)
    west, south, east, north = scene.footprint.extent
    centre = scene.footprint.centroid
    return {
        "tilejson": TILEJSON_VERSION,
        "name": scene.name,
        "description": f"{scene.get_kind_display()}, {render.PRESET_LABELS[chosen]}",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [f"{tiles_url}{{z}}/{{x}}/{{y}}.png?{urlencode({'preset': chosen})}"],
        "minzoom": zooms.minzoom,
        "maxzoom": zooms.maxzoom,
        "bounds": [west, south, east, north],
        "center": [centre.x, centre.y, zooms.maxzoom - 2 if zooms.maxzoom >= 2 else 0],
        "preset": chosen,
        "presets": {name: render.PRESET_LABELS[name] for name in scene_presets(scene)},
    }


# What each landslide carries in the `landslides` layer of the vector tiles
# (inventories.selectors.tiles builds them).
LANDSLIDE_FIELDS = {
    "version": "Number: the landslide's version (edits raise it)",
    "type": "String: slide, flow, fall, topple, spread, complex or unknown",
    "review_state": "String: none, accepted, rejected or edited",
    "confidence": "Number: the model's confidence, 0-1 (predicted inventories)",
    "area": "Number: geodesic area in square metres",
}


def inventory_tilejson(*, inventory: Inventory, tiles_url: str) -> dict[str, Any]:
    """TileJSON 3.0 of an inventory's vector tiles, with its one layer in `vector_layers`."""
    box = inventory.landslides.aggregate(box=Extent("geometry"))["box"]
    document: dict[str, Any] = {
        "tilejson": TILEJSON_VERSION,
        "name": inventory.name,
        "description": inventory.description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [f"{tiles_url}{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": render.MIN_ZOOM,
        "maxzoom": 22,
        "vector_layers": [
            {
                "id": "landslides",
                "description": f"The landslides of {inventory.name}",
                "fields": LANDSLIDE_FIELDS,
            }
        ],
    }
    if box is not None:
        document["bounds"] = list(box)
        document["center"] = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 14]
    return document


@dataclass(frozen=True)
class WmtsLayer:
    """One scene as a WMTS layer: its presets are the layer's styles."""

    identifier: str
    title: str
    wgs84: tuple[float, float, float, float]
    mercator: tuple[float, float, float, float]
    styles: list[tuple[str, str]]
    maxzoom: int
    matrix_set: str
    template: str


@dataclass(frozen=True)
class WmtsMatrix:
    identifier: str
    scale_denominator: float
    top_left: tuple[float, float]
    tile_size: int
    width: int
    height: int


def wmts_layer_id(scene: Scene) -> str:
    return f"scene-{scene.pk}"


def matrix_set_id(maxzoom: int) -> str:
    return f"WebMercatorQuad-z{maxzoom}"


def wmts_layer(*, scene: Scene, tiles_url: str) -> WmtsLayer:
    zooms = scene_zooms(scene)
    west, south, east, north = scene.footprint.extent
    minx, miny = _TO_MERCATOR.transform(west, south)
    maxx, maxy = _TO_MERCATOR.transform(east, north)
    return WmtsLayer(
        identifier=wmts_layer_id(scene),
        title=scene.name,
        wgs84=(west, south, east, north),
        mercator=(minx, miny, maxx, maxy),
        styles=[(name, render.PRESET_LABELS[name]) for name in scene_presets(scene)],
        maxzoom=zooms.maxzoom,
        matrix_set=matrix_set_id(zooms.maxzoom),
        template=f"{tiles_url}{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png?preset={{Style}}",
    )


def wmts_matrices(maxzoom: int) -> list[WmtsMatrix]:
    """GoogleMapsCompatible levels 0 to `maxzoom`: a client's full resolution is the scene's."""
    matrices = []
    for zoom in range(maxzoom + 1):
        matrix = WEB_MERCATOR.matrix(zoom)
        matrices.append(
            WmtsMatrix(
                identifier=str(zoom),
                scale_denominator=matrix.scaleDenominator,
                top_left=tuple(matrix.pointOfOrigin),
                tile_size=matrix.tileWidth,
                width=matrix.matrixWidth,
                height=matrix.matrixHeight,
            )
        )
    return matrices


def wmts_contents(*, scenes: list[Scene], tiles_url_of) -> dict[str, Any]:
    """The layers and tile matrix sets of a WMTS capabilities document for these scenes.

    `tiles_url_of(scene)` gives the absolute `.../tiles/` prefix of a scene.
    """
    layers = [wmts_layer(scene=scene, tiles_url=tiles_url_of(scene)) for scene in scenes]
    zooms = sorted({layer.maxzoom for layer in layers})
    return {
        "layers": layers,
        "matrix_sets": [
            {"identifier": matrix_set_id(z), "matrices": wmts_matrices(z)} for z in zooms
        ],
    }
