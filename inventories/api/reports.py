"""Accuracy reports: list, read, start (a job), delete, files and the TP/FP/FN map layers.

Every lookup goes through the caller's projects: an outsider gets 404 on
each URL here and finds nothing in the list.
"""

from __future__ import annotations

from django.http import FileResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.jobs import JobSerializer
from inventories.api.serializers.reports import (
    ReportDetailSerializer,
    ReportSerializer,
    ReportStartSerializer,
)
from inventories.models import AccuracyReport
from inventories.selectors.landslides import parse_bbox
from inventories.selectors.reports import (
    REPORT_FILES,
    inventory_for_report,
    report_file,
    report_layer,
)
from inventories.services.reports import report_delete, report_start

FILE_NAMES = "|".join(name.replace(".", r"\.") for name in REPORT_FILES)


class _AnyAccept(BaseContentNegotiation):
    """Files and layers are what they are whatever the Accept header says; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    """Accuracy reports of the caller's projects; ?project=ID and ?reference=ID filter."""

    queryset = AccuracyReport.objects.select_related(
        "project", "predicted", "reference", "predicted__model_version", "created_by"
    )
    serializer_class = ReportSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        reference = self.request.query_params.get("reference")
        if reference and reference.isdigit():
            queryset = queryset.filter(reference_id=int(reference))
        return queryset

    def get_serializer_class(self):
        return ReportDetailSerializer if self.action == "retrieve" else ReportSerializer

    @extend_schema(request=ReportStartSerializer, responses={202: JobSerializer})
    def create(self, request):
        """Start a report job (project admins); the job's result holds the report id."""
        serializer = ReportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = report_start(
            user=request.user,
            predicted=inventory_for_report(user=request.user, pk=data["predicted"]),
            reference=inventory_for_report(user=request.user, pk=data["reference"]),
            name=data.get("name", ""),
            splits=data.get("splits") or None,
            area=data.get("area"),
            iou_threshold=data["iou_threshold"],
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    def perform_destroy(self, instance):
        report_delete(report=instance, user=self.request.user)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        url_path=rf"files/(?P<filename>{FILE_NAMES})",
        url_name="file",
        content_negotiation_class=_AnyAccept,
    )
    def file(self, request, pk=None, filename=""):
        report = self.get_object()
        path = report_file(report=report, name=filename)
        kind = REPORT_FILES[filename]
        return FileResponse(
            path.open("rb"),
            as_attachment=not kind.inline,
            filename=f"report-{report.pk}-{filename}",
            content_type=kind.content_type,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat (EPSG:4326)")
        ],
        responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"layers/(?P<layer>tp|fp|fn)",
        url_name="layer",
        content_negotiation_class=_AnyAccept,
    )
    def layer(self, request, pk=None, layer=""):
        """TP, FP or FN polygons inside bbox, at most 5000; `truncated` says when more exist."""
        report = self.get_object()
        bbox = parse_bbox(request.query_params.get("bbox"))
        collection = report_layer(report=report, layer=layer, bbox=bbox)
        return JsonResponse(collection, content_type="application/geo+json")
