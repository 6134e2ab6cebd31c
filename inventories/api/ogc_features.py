"""OGC API - Features: `/api/projects/{id}/ogc/`, a project's inventories for GIS clients.

QGIS and GDAL's OAPIF driver open the landing page URL and follow its
links. Read-only; any member may read, anyone else gets 404 on every URL.
Clients authenticate with the API token in a header they can send
(`Authorization: Token <key>`; for GDAL, the GDAL_HTTP_HEADERS option).
The documents are built by `inventories.selectors.ogc_features`.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.tiles import _IgnoreAccept
from inventories.selectors import ogc_features as ogc
from inventories.selectors.projects import project_get


class GeoJSONRenderer(JSONRenderer):
    media_type = ogc.GEOJSON
    format = "geojson"


class _OgcView(APIView):
    """Answers JSON whatever the Accept header asks (clients send GeoJSON, OpenAPI, ...)."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreAccept

    def project_and_base(self, project_pk: int):
        project = project_get(user=self.request.user, pk=project_pk)
        base = self.request.build_absolute_uri(
            reverse("ogc-landing", kwargs={"project_pk": project.pk})
        )
        return project, base


class OgcLandingView(_OgcView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="OGC API Features landing page",
        operation_id="ogc_landing",
    )
    def get(self, request, project_pk: int):
        project, base = self.project_and_base(project_pk)
        schema_url = request.build_absolute_uri(reverse("schema")) + "?format=json"
        return Response(ogc.landing_page(project=project, base=base, schema_url=schema_url))


class OgcConformanceView(_OgcView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="OGC API Features conformance",
        operation_id="ogc_conformance",
    )
    def get(self, request, project_pk: int):
        self.project_and_base(project_pk)
        return Response(ogc.conformance())


class OgcCollectionsView(_OgcView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="The project's inventories",
        operation_id="ogc_collections",
    )
    def get(self, request, project_pk: int):
        project, base = self.project_and_base(project_pk)
        return Response(ogc.collections(project=project, base=base))


class OgcCollectionView(_OgcView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="One inventory as a collection",
        operation_id="ogc_collection",
    )
    def get(self, request, project_pk: int, collection_id: str):
        project, base = self.project_and_base(project_pk)
        inventory = ogc.inventory_in_project(project=project, collection_id=collection_id)
        return Response(ogc.collection(inventory=inventory, base=base))


ITEMS_PARAMETERS = [
    OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat (CRS84)"),
    OpenApiParameter("limit", int, description="features per page (capped)"),
    OpenApiParameter("offset", int, description="features to skip (the next link sets it)"),
]


class OgcItemsView(_OgcView):
    renderer_classes = [GeoJSONRenderer]

    @extend_schema(
        parameters=ITEMS_PARAMETERS,
        responses={(200, ogc.GEOJSON): OpenApiTypes.OBJECT},
        summary="A page of an inventory's landslides (GeoJSON)",
        operation_id="ogc_items",
    )
    def get(self, request, project_pk: int, collection_id: str):
        project, base = self.project_and_base(project_pk)
        inventory = ogc.inventory_in_project(project=project, collection_id=collection_id)
        query = ogc.ItemsQuery.parse(request.query_params)
        return Response(ogc.items(inventory=inventory, query=query, base=base))


class OgcItemView(_OgcView):
    renderer_classes = [GeoJSONRenderer]

    @extend_schema(
        responses={(200, ogc.GEOJSON): OpenApiTypes.OBJECT},
        summary="One landslide (GeoJSON)",
        operation_id="ogc_item",
    )
    def get(self, request, project_pk: int, collection_id: str, feature_id: str):
        project, base = self.project_and_base(project_pk)
        inventory = ogc.inventory_in_project(project=project, collection_id=collection_id)
        return Response(ogc.item(inventory=inventory, feature_id=feature_id, base=base))
