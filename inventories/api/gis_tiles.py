"""Tile descriptions GIS clients open: TileJSON 3.0 and OGC WMTS capabilities.

- `/api/scenes/{id}/tilejson.json?preset=` : one scene in one of its presets
- `/api/inventories/{id}/tilejson.json` : an inventory's vector tiles
- `/api/projects/{id}/wmts/WMTSCapabilities.xml` : every scene of a project,
  each a layer whose styles are its presets (QGIS and GDAL's WMTS driver)

They describe the existing XYZ endpoints and open no file. Any member may
read them; anyone else gets 404. Token clients send `Authorization: Token <key>`.
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.tiles import _IgnoreAccept
from inventories.selectors import gis_tiles
from inventories.selectors.projects import inventory_get, project_get
from mlcore.raster import render

WMTS_TYPE = "application/xml"


class XMLRenderer(BaseRenderer):
    """Passes a rendered XML document through; errors become a small XML text."""

    media_type = WMTS_TYPE
    format = "xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode()
        detail = str((data or {}).get("detail", ""))
        return render_to_string("ogc/exception.xml", {"detail": detail}).encode()


class _DescriptionView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreAccept


def _scene_tiles_url(request, scene) -> str:
    return request.build_absolute_uri(reverse("scene-detail", kwargs={"pk": scene.pk})) + "tiles/"


class SceneTileJSONView(_DescriptionView):
    @extend_schema(
        parameters=[OpenApiParameter("preset", str, enum=list(render.PRESETS))],
        responses={200: OpenApiTypes.OBJECT},
        summary="TileJSON 3.0 of a scene in one of its presets",
    )
    def get(self, request, pk: int):
        scene = gis_tiles.scene_get(user=request.user, pk=pk)
        document = gis_tiles.scene_tilejson(
            scene=scene,
            tiles_url=_scene_tiles_url(request, scene),
            preset=request.query_params.get("preset"),
        )
        return Response(document)


class InventoryTileJSONView(_DescriptionView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT}, summary="TileJSON 3.0 of an inventory's landslides"
    )
    def get(self, request, inventory_pk: int):
        inventory = inventory_get(user=request.user, pk=inventory_pk)
        tiles_url = request.build_absolute_uri(
            reverse("inventory-detail", kwargs={"pk": inventory.pk})
        )
        return Response(
            gis_tiles.inventory_tilejson(inventory=inventory, tiles_url=tiles_url + "tiles/")
        )


class ProjectWMTSView(_DescriptionView):
    renderer_classes = [XMLRenderer]

    @extend_schema(
        responses={(200, WMTS_TYPE): OpenApiTypes.STR},
        summary="OGC WMTS 1.0 capabilities: the project's scenes as layers, presets as styles",
    )
    def get(self, request, project_pk: int):
        project = project_get(user=request.user, pk=project_pk)
        contents = gis_tiles.wmts_contents(
            scenes=list(project.scenes.order_by("pk").defer("crs_wkt")),
            tiles_url_of=lambda scene: _scene_tiles_url(request, scene),
        )
        xml = render_to_string(
            "ogc/wmts_capabilities.xml",
            {"project": project, "url": request.build_absolute_uri(), **contents},
        )
        return Response(xml, content_type=f"{WMTS_TYPE}; charset=utf-8")
