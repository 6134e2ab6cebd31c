"""Accuracy reports: list, read, start (a job), delete, files and the TP/FP/FN map layers.

Every lookup goes through the caller's projects: an outsider gets 404 on
each URL here and finds nothing in the list.
"""

from __future__ import annotations

from django.http import FileResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers import JobSerializer
from inventories.models import AccuracyReport, MappedExtent
from inventories.selectors.landslides import parse_bbox
from inventories.selectors.reports import (
    LAYERS,
    REPORT_FILES,
    inventory_for_report,
    report_file,
    report_files,
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


class ReportSerializer(serializers.ModelSerializer):
    """A report with its headline figures and the URLs of its files and layers."""

    predicted_name = serializers.CharField(source="predicted.name", read_only=True)
    reference_name = serializers.CharField(source="reference.name", read_only=True)
    model_version = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    headline = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    layers = serializers.SerializerMethodField()

    class Meta:
        model = AccuracyReport
        fields = [
            "id",
            "project",
            "name",
            "predicted",
            "predicted_name",
            "reference",
            "reference_name",
            "model_version",
            "iou_threshold",
            "headline",
            "files",
            "layers",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_model_version(self, report) -> str | None:
        version = report.predicted.model_version
        return version.name if version else None

    def get_headline(self, report) -> dict:
        f = report.figures
        return {
            "pixel_f1": f.get("pixel", {}).get("f1"),
            "pixel_iou": f.get("pixel", {}).get("iou"),
            "object_f1": f.get("objects", {}).get("f1"),
            "average_precision": (f.get("probability") or {}).get("average_precision"),
        }

    def get_files(self, report) -> dict[str, str]:
        return {
            name: reverse("report-file", args=[report.pk, name])
            for name in report_files(report=report)
        }

    def get_layers(self, report) -> dict[str, str]:
        return {name: reverse("report-layer", args=[report.pk, name]) for name in LAYERS}


class ReportDetailSerializer(ReportSerializer):
    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "evaluation_area", "figures"]
        read_only_fields = fields


class ReportStartSerializer(serializers.Serializer):
    predicted = serializers.IntegerField(help_text="The inventory evaluated (the prediction).")
    reference = serializers.IntegerField(help_text="The inventory taken as the truth.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    splits = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False,
        allow_empty=True,
        help_text="Evaluate over the reference's mapped extents of these splits: "
        f"{', '.join(MappedExtent.Split.values)} (default test).",
    )
    area = serializers.JSONField(
        required=False, allow_null=True, help_text="Or a GeoJSON polygon (lon/lat) to evaluate in."
    )
    iou_threshold = serializers.FloatField(default=0.5, min_value=0.0, max_value=1.0)


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
