"""Map tiles: imagery as JPEG/PNG/WebP from a scene's COG, landslides and extents as vector tiles.

Tiles are read by the map many times a second, so these views stay small:
one lookup scoped to the caller's projects (others get 404 and learn
nothing), the caps checked before any file is opened, a validator so a
browser or proxy can reuse what it already has, and a server-side cache of
rendered imagery (`inventories.services.tile_cache`) so a tile is rendered
once for everyone.
"""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from inventories.errors import InvalidInput, NotFound
from inventories.models import Scene
from inventories.selectors.projects import inventory_get, projects_for_user
from inventories.selectors.tiles import extent_tile, landslide_tile
from inventories.services.tile_cache import content_type, tile_get_or_render, tile_key
from mlcore.raster import (
    PRESETS,
    TILE_SIZES,
    check_tile,
    default_preset,
    empty_tile,
    render_tile,
    style_for,
)

RASTER_CACHE = "private, max-age=86400"
# Vector tiles change with every edit: always revalidate, answer 304 when unchanged.
VECTOR_CACHE = "private, no-cache"
MVT_TYPE = "application/vnd.mapbox-vector-tile"


class _IgnoreAccept(BaseContentNegotiation):
    """Tiles are images whatever the Accept header says; only errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _TileView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreAccept


def _cached(request: HttpRequest, etag: str, cache_control: str) -> HttpResponse | None:
    """A 304 when the client already holds this tile."""
    sent = request.headers.get("If-None-Match", "")
    if etag in (tag.strip() for tag in sent.split(",")):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        response["Cache-Control"] = cache_control
        return response
    return None


def _tile(body: bytes, content_type: str, etag: str, cache_control: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


def _int_list(value: str | None, name: str) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise InvalidInput(
            f"{name} must be band numbers separated by commas, like 1,2,3."
        ) from None


IMAGE_PARAMETERS = [
    OpenApiParameter("preset", str, enum=list(PRESETS)),
    OpenApiParameter("bands", str, description="1-based band numbers, e.g. 4,3,2"),
    OpenApiParameter("colormap", str, description="for one band, e.g. terrain, magma"),
    OpenApiParameter("tilesize", int, enum=list(TILE_SIZES)),
]


class SceneTileView(_TileView):
    """`/api/scenes/{id}/tiles/{z}/{x}/{y}[.png|.webp]`: only the server-written COG is opened.

    Without an extension the server picks the format per tile: JPEG where
    every pixel has data (at the scene's resolution a tenth of a PNG's bytes,
    and faster to encode; zoomed in far past it, blocky pixels make PNG the
    smaller), PNG where some are transparent (nodata, the scene's edge). Outside the scene
    the answer is a transparent tile (200), never an error, so a map can ask
    for every tile of its view.
    """

    @extend_schema(
        parameters=IMAGE_PARAMETERS,
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/webp"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request, pk: int, z: int, x: int, y: int, fmt: str = "auto"):
        z, x, y = int(z), int(x), int(y)
        tilesize = request.query_params.get("tilesize", "256")
        if not tilesize.isdigit():
            raise InvalidInput("tilesize must be a whole number of pixels (256 or 512).")
        check_tile(z, x, y, int(tilesize))
        scene = (
            Scene.objects.filter(project__in=projects_for_user(request.user), pk=pk)
            .defer("footprint", "crs_wkt")  # not needed here, and parsing them costs per tile
            .first()
        )
        if scene is None:
            raise NotFound("No such scene.")
        query = request.query_params
        style = style_for(
            preset=query.get("preset") or default_preset(scene.band_names, scene.kind),
            band_names=scene.band_names,
            band_stats=scene.band_stats,
            kind=scene.kind,
            bands=_int_list(query.get("bands"), "bands"),
            colormap=query.get("colormap") or None,
            scene_name=scene.name,
        )
        key = tile_key(scene=scene, address=f"{z}/{x}/{y}@{tilesize}.{fmt}", style_key=style.key())
        etag = f'"{key}"'
        cached = _cached(request, etag, RASTER_CACHE)
        if cached is not None:
            return cached

        def draw() -> bytes | None:
            return render_tile(
                scene.path, z=z, x=x, y=y, style=style, tilesize=int(tilesize), img_format=fmt
            )

        body = tile_get_or_render(scene=scene, key=key, render=draw)
        if body is None:  # outside the scene: a blank tile, never stored
            body = empty_tile(int(tilesize), fmt)
        return _tile(body, content_type(body), etag, RASTER_CACHE)


def _vector_tile(request, body: bytes) -> HttpResponse:
    etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
    return _cached(request, etag, VECTOR_CACHE) or _tile(body, MVT_TYPE, etag, VECTOR_CACHE)


def _check_address(z: int, x: int, y: int) -> None:
    check_tile(z, x, y, TILE_SIZES[0])


class LandslideTileView(_TileView):
    """`/api/inventories/{id}/tiles/{z}/{x}/{y}.mvt`: layer `landslides`, id = landslide id."""

    @extend_schema(responses={(200, MVT_TYPE): OpenApiTypes.BINARY})
    def get(self, request, inventory_pk: int, z: int, x: int, y: int):
        z, x, y = int(z), int(x), int(y)
        _check_address(z, x, y)
        inventory = inventory_get(user=request.user, pk=inventory_pk)
        return _vector_tile(request, landslide_tile(inventory=inventory, z=z, x=x, y=y))


class ExtentTileView(_TileView):
    """`/api/inventories/{id}/extents/tiles/{z}/{x}/{y}.mvt`: layer `extents` with split role."""

    @extend_schema(responses={(200, MVT_TYPE): OpenApiTypes.BINARY})
    def get(self, request, inventory_pk: int, z: int, x: int, y: int):
        z, x, y = int(z), int(x), int(y)
        _check_address(z, x, y)
        inventory = inventory_get(user=request.user, pk=inventory_pk)
        return _vector_tile(request, extent_tile(inventory=inventory, z=z, x=x, y=y))
