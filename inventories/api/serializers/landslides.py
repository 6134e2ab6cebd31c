"""Landslides and mapped extents as GeoJSON features, their writes and history."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from inventories.models import Landslide, LandslideChange, MappedExtent


class LandslideSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Landslide
        geo_field = "geometry"
        fields = [
            "id",
            "inventory",
            "area_m2",
            "landslide_type",
            "certainty",
            "confidence",
            "review_state",
            "notes",
            "attributes",
            "repaired",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LandslideWriteSerializer(serializers.Serializer):
    """Input for create and update. `version` is required for updates (optimistic locking)."""

    geometry = serializers.JSONField(required=False)
    version = serializers.IntegerField(required=False, min_value=1)
    landslide_type = serializers.ChoiceField(choices=Landslide.Type.choices, required=False)
    certainty = serializers.ChoiceField(choices=Landslide.Certainty.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True)


class LandslideMergePieceSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1)


class LandslideMergeSerializer(serializers.Serializer):
    """Input for a merge: each landslide with the version the caller read."""

    landslides = LandslideMergePieceSerializer(many=True, allow_empty=False)


class LandslideChangeSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LandslideChange
        fields = ["id", "landslide_pk", "action", "version", "geometry", "data", "user", "at"]
        read_only_fields = fields


class MappedExtentSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = MappedExtent
        geo_field = "geometry"
        fields = ["id", "inventory", "split", "name", "version", "created_at", "updated_at"]
        read_only_fields = fields


class MappedExtentWriteSerializer(serializers.Serializer):
    geometry = serializers.JSONField(required=False)
    version = serializers.IntegerField(required=False, min_value=1)
    split = serializers.ChoiceField(choices=MappedExtent.Split.choices, required=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
