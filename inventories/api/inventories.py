from __future__ import annotations

import tempfile
from pathlib import Path

from django.db.models import Count
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.inventories import InventorySerializer, InventoryUploadSerializer
from inventories.api.serializers.jobs import JobSerializer
from inventories.models import Inventory
from inventories.permissions import Action
from inventories.selectors.projects import project_get
from inventories.services.deletion import inventory_delete
from inventories.services.exports import (
    EXPORT_FORMATS,
    export_format,
    export_in_background,
    inventory_export_start,
)
from inventories.services.inventories import export_crs, inventory_export
from inventories.services.inventory_edits import inventory_create, inventory_update
from inventories.services.uploads import inventory_upload_start


class InventoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    queryset = Inventory.objects.select_related("project").annotate(
        landslide_count=Count("landslides")
    )
    serializer_class = InventorySerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = inventory_create(
            project=project_get(user=self.request.user, pk=data["project"].pk),
            user=self.request.user,
            name=data["name"],
            kind=data.get("kind", Inventory.Kind.REFERENCE),
            status=data.get("status", Inventory.Status.DRAFT),
            description=data.get("description", ""),
        )

    def perform_update(self, serializer):
        """The service decides field by field (kind fixed, final for reviewers)."""
        serializer.instance = inventory_update(
            inventory=serializer.instance,
            user=self.request.user,
            data=dict(serializer.validated_data),
        )

    def perform_destroy(self, instance):
        inventory_delete(inventory=instance, user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("as", str, enum=list(EXPORT_FORMATS), default="geojson"),
            OpenApiParameter("crs", str, required=False, description="e.g. EPSG:32647"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            202: JobSerializer,
        },
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        """The inventory as a file; over SCARP_EXPORT_SYNC_MAX_POLYGONS, a job (202) to follow.

        The format is `?as=` because `?format=` is DRF's own override of the
        response renderer, which answers 404 for a name it does not render.
        """
        inventory = self.get_object()
        fmt = request.query_params.get("as", "geojson")
        suffix, content_type = export_format(fmt)
        crs = export_crs(request.query_params.get("crs"))
        if export_in_background(inventory):
            job = inventory_export_start(inventory=inventory, fmt=fmt, crs=crs, user=request.user)
            return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / f"inventory-{inventory.pk}{suffix}"
        inventory_export(inventory=inventory, path=path, crs=crs)
        response = FileResponse(
            path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type
        )
        response._resource_closers.append(tmp.cleanup)
        return response


class InventoryUploadView(APIView):
    """Import a GeoJSON, GeoPackage, zipped Shapefile or KML as a new inventory (a job)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=InventoryUploadSerializer, responses={202: JobSerializer})
    def post(self, request, project_pk: int):
        project = project_get(user=request.user, pk=project_pk, action=Action.EDIT)
        serializer = InventoryUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = inventory_upload_start(
            project=project,
            uploaded=data["file"],
            user=request.user,
            name=data["name"],
            kind=data["kind"],
            layer=data.get("layer", ""),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
