"""Serializers per endpoint: input and output shapes kept apart where they differ."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from inventories.api.fields import GeoJSONAreaField
from inventories.models import (
    Inventory,
    Job,
    Landslide,
    LandslideChange,
    MappedExtent,
    Membership,
    Project,
    Role,
    Scene,
)
from inventories.permissions import role_of
from inventories.selectors.jobs import job_timing
from inventories.selectors.projects import projects_for_user


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    area_of_interest = GeoJSONAreaField(required=False, allow_null=True)

    class Meta:
        model = Project
        fields = ["id", "name", "description", "trigger", "event_date", "area_of_interest"]
        fields += ["created_at", "role"]
        read_only_fields = ["created_at", "role"]

    def get_role(self, project) -> str | None:
        return role_of(self.context["request"].user, project)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model().objects.all()
    )

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]
        read_only_fields = ["created_at"]


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


class InventorySerializer(serializers.ModelSerializer):
    landslide_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Inventory
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "status",
            "description",
            "source_filename",
            "source_format",
            "source_crs",
            "model_version",
            "created_at",
            "landslide_count",
        ]
        read_only_fields = [
            "source_filename",
            "source_format",
            "source_crs",
            "model_version",
            "created_at",
            "landslide_count",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Unknown and foreign projects get the same answer: nothing leaks.
            self.fields["project"].queryset = projects_for_user(request.user)


class InventoryUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Inventory.Kind.choices, default="reference")
    layer = serializers.CharField(required=False, allow_blank=True)


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


class MergePieceSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1)


class LandslideMergeSerializer(serializers.Serializer):
    """Input for a merge: each landslide with the version the caller read."""

    landslides = MergePieceSerializer(many=True, allow_empty=False)


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


class JobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    elapsed_seconds = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()

    def get_elapsed_seconds(self, job) -> float | None:
        return job_timing(job).elapsed_seconds

    def get_eta_seconds(self, job) -> float | None:
        """About how long a running job has left, from its progress so far; null until known."""
        return job_timing(job).eta_seconds

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "state",
            "state_label",
            "queue",
            "params",
            "result",
            "progress",
            "message",
            "log",
            "error",
            "attempts",
            "cancel_requested",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "elapsed_seconds",
            "eta_seconds",
        ]
        read_only_fields = fields


ROLE_CHOICES = Role.choices
