"""Accuracy reports: the list row, the full report, and the body that starts one."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from inventories.models import AccuracyReport, MappedExtent
from inventories.selectors.reports import LAYERS, report_files


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
