"""Model versions, and the bodies that start training, pretraining and prediction."""

from __future__ import annotations

from rest_framework import serializers

from inventories.models import ModelVersion
from inventories.services.pretraining import HYPERPARAMETERS as PRETRAIN_OPTIONS
from mlcore.training import METHODS


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "architecture",
            "encoder",
            "hyperparameters",
            "input_bands",
            "normalisation",
            "data_snapshot",
            "parent",
            "pretrained_from",
            "pretraining",
            "metrics",
            "checkpoint_sha256",
            "status",
            "promoted",
            "created_at",
        ]
        read_only_fields = fields


class TrainingStartSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    arch = serializers.CharField(default="unet")
    encoder = serializers.CharField(default="resnet34")
    places = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=1),
        min_length=1,
        help_text="Each place: scene ids stacked as bands on the first one's grid.",
    )
    inventories = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Default: all references."
    )
    hyperparameters = serializers.DictField(required=False, default=dict)
    pretrained = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A ready pretraining of the project (a version id) to start from; it must be "
        "the same network (arch, encoder, depth, width) on the same bands.",
    )


class PretrainingStartSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    arch = serializers.CharField(default="unet")
    encoder = serializers.CharField(default="resnet34")
    method = serializers.ChoiceField(choices=METHODS, default="masked")
    places = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=1),
        min_length=1,
        help_text="Each place: scene ids stacked as bands on the first one's grid; no labels.",
    )
    hyperparameters = serializers.DictField(
        required=False,
        default=dict,
        help_text="Numbers, all optional: " + ", ".join(PRETRAIN_OPTIONS) + ".",
    )


class PredictionStartSerializer(serializers.Serializer):
    scenes = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=1,
        help_text="Scene ids of one place, in the order the model was trained on.",
    )
    threshold = serializers.FloatField(required=False, allow_null=True, default=None)
    min_area_m2 = serializers.FloatField(required=False, default=0.0)
    split = serializers.BooleanField(
        required=False, default=False, help_text="Spread window blocks over several workers."
    )
