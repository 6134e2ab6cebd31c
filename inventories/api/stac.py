"""STAC: `/api/projects/{id}/stac/` (a Collection) and `/api/scenes/{id}/stac/` (an Item).

`POST /api/projects/{id}/scenes/stac/` imports an Item's COG assets as scenes
(admins, as every imagery upload; see inventories.services.stac_import).

An Item's `image` asset is `/api/scenes/{id}/cog/`, the scene's stored COG,
with the same permissions: any member reads, anyone else gets 404.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.serializers.jobs import JobSerializer
from inventories.api.serializers.stac import StacImportSerializer
from inventories.api.tiles import _IgnoreAccept
from inventories.errors import InvalidInput
from inventories.permissions import Action
from inventories.selectors import stac
from inventories.selectors.gis_tiles import scene_get
from inventories.selectors.projects import project_get
from inventories.services.stac_import import stac_document, stac_import_start

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


class _StacView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreAccept


def _absolute(request, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(name, kwargs=kwargs))


class SceneStacItemView(_StacView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The scene as a STAC Item")
    def get(self, request, pk: int):
        scene = scene_get(user=request.user, pk=pk)
        item = stac.scene_item(
            scene=scene,
            cog_href=_absolute(request, "scene-cog", pk=scene.pk),
            self_href=_absolute(request, "scene-stac", pk=scene.pk),
        )
        item.add_link(
            stac.pystac.Link(
                "collection", _absolute(request, "project-stac", project_pk=scene.project_id)
            )
        )
        item.collection_id = f"project-{scene.project_id}"
        return Response(item.to_dict(include_self_link=True, transform_hrefs=False))


class ProjectStacCollectionView(_StacView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The project as a STAC Collection")
    def get(self, request, project_pk: int):
        project = project_get(user=request.user, pk=project_pk)
        collection = stac.project_collection(
            project=project,
            item_href=lambda pk: _absolute(request, "scene-stac", pk=pk),
            self_href=_absolute(request, "project-stac", project_pk=project.pk),
        )
        return Response(collection.to_dict(include_self_link=True, transform_hrefs=False))


class SceneCogView(APIView):
    @extend_schema(responses={(200, "image/tiff"): OpenApiTypes.BINARY}, summary="The scene's COG")
    def get(self, request, pk: int):
        scene = scene_get(user=request.user, pk=pk)
        name = f"scene-{scene.pk}.tif"
        return FileResponse(
            scene.path.open("rb"), as_attachment=True, filename=name, content_type=COG_TYPE
        )


MAX_STAC_BYTES = 10 * 1024**2


class StacImportView(APIView):
    """Import the GeoTIFF assets of a STAC Item as scenes: one import job per asset (202)."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=StacImportSerializer, responses={202: JobSerializer(many=True)})
    def post(self, request, project_pk: int):
        project = project_get(user=request.user, pk=project_pk, action=Action.MANAGE)
        serializer = StacImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "file" in data:
            uploaded = data["file"]
            if uploaded.size > MAX_STAC_BYTES:
                raise InvalidInput(f"{uploaded.name} is larger than {MAX_STAC_BYTES} bytes.")
            document = stac_document(uploaded.read(), uploaded.name)
        elif "document" in data:
            document = data["document"]
        else:
            raise InvalidInput("Give the STAC Item as a file or as JSON in 'document'.")
        jobs = stac_import_start(
            project=project, document=document, user=request.user, kind=data["kind"],
            phase=data["phase"],
        )  # fmt: skip
        return Response(JobSerializer(jobs, many=True).data, status=status.HTTP_202_ACCEPTED)
