"""Scenes: what the API answers about one, and the upload form."""

from __future__ import annotations

from rest_framework import serializers

from inventories.models import Scene


class SceneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scene
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "phase",
            "acquired_on",
            "source",
            "original_filename",
            "size_bytes",
            "width",
            "height",
            "band_count",
            "band_names",
            "dtype",
            "epsg",
            "resolution_x",
            "resolution_y",
            "nodata",
            "footprint",
            "band_stats",
            "created_at",
        ]
        read_only_fields = fields


class SceneUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=[Scene.Kind.OPTICAL, Scene.Kind.DEM], default="optical")
    phase = serializers.ChoiceField(choices=Scene.Phase.choices, default=Scene.Phase.POST)
    band_names = serializers.CharField(
        required=False, allow_blank=True, help_text="Comma-separated, one per band."
    )
    acquired_on = serializers.DateField(required=False, allow_null=True)
