"""The review of a predicted inventory: queue rows, decisions and their bodies."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from inventories.api.serializers.landslides import LandslideSerializer
from inventories.models import Landslide, ReviewDecision


class ReviewItemSerializer(GeoFeatureModelSerializer):
    uncertainty = serializers.FloatField(read_only=True, allow_null=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Landslide
        geo_field = "geometry"
        fields = [
            "id",
            "inventory",
            "area_m2",
            "landslide_type",
            "confidence",
            "uncertainty",
            "review_state",
            "version",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields


class ReviewedLandslideSerializer(LandslideSerializer):
    """A landslide as a decision answers it: with who changed it last, as the queue has.

    The review page shows "Last changed by" from these fields; without them
    a polygon just decided would still show its creator (the model).
    """

    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta(LandslideSerializer.Meta):
        fields = [*LandslideSerializer.Meta.fields, "updated_by"]
        read_only_fields = fields


class ReviewDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.Decision.choices)
    version = serializers.IntegerField(min_value=1)
    geometry = serializers.JSONField(required=False)
    round = serializers.IntegerField(min_value=1, max_value=2, default=1)


class ReviewReopenSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ReviewRevertSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)
    to_version = serializers.IntegerField(min_value=1)


class ReviewPromoteSerializer(serializers.Serializer):
    reference = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False, max_length=200)


class ReviewAssignSerializer(serializers.Serializer):
    reviewers = serializers.ListField(child=serializers.CharField(), min_length=1)
    by = serializers.ChoiceField(choices=["count", "area"], default="count")
    round = serializers.IntegerField(min_value=1, max_value=2, default=1)


class ReviewDecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReviewDecision
        fields = ["id", "round", "decision", "version", "current", "reviewer", "at"]
        read_only_fields = fields
