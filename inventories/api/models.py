"""The model registry: versions, training, pretraining, promotion, retraining, curves."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers import JobSerializer
from inventories.errors import InvalidInput
from inventories.models import ModelVersion, Project
from inventories.permissions import Action
from inventories.selectors.projects import project_get
from inventories.services.deletion import model_delete, model_version_delete
from inventories.services.files import media_path
from inventories.services.prediction import prediction_start
from inventories.services.pretraining import HYPERPARAMETERS as PRETRAIN_OPTIONS
from inventories.services.pretraining import pretraining_start
from inventories.services.training import model_promote, model_retrain, training_start
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


class TrainingRequestSerializer(serializers.Serializer):
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


class PretrainingRequestSerializer(serializers.Serializer):
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


class PredictionRequestSerializer(serializers.Serializer):
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


class ModelVersionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ProjectScopedViewSet
):
    queryset = ModelVersion.objects.select_related("project", "parent", "pretrained_from")
    serializer_class = ModelVersionSerializer

    def perform_destroy(self, instance):
        model_delete(version=instance, user=self.request.user)

    @extend_schema(request=TrainingRequestSerializer, responses={202: JobSerializer})
    def create(self, request):
        serializer = TrainingRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project: Project = project_get(user=request.user, pk=data["project"], action=Action.MANAGE)
        job = training_start(
            project=project,
            user=request.user,
            name=data["name"],
            places=data["places"],
            arch=data["arch"],
            encoder=data["encoder"],
            inventories=data.get("inventories"),
            hyperparameters=data["hyperparameters"],
            pretrained=_pretrained(project, data["pretrained"]),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PretrainingRequestSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def pretrain(self, request):
        """Pretrain a network on the project's unlabelled imagery (masked or denoising)."""
        serializer = PretrainingRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project: Project = project_get(user=request.user, pk=data["project"], action=Action.MANAGE)
        job = pretraining_start(
            project=project,
            user=request.user,
            name=data["name"],
            places=data["places"],
            arch=data["arch"],
            encoder=data["encoder"],
            method=data["method"],
            hyperparameters=data["hyperparameters"],
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: ModelVersionSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        version = model_promote(version=self.get_object(), user=request.user)
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        """Delete a version whose training failed or was cancelled, with its files (admins)."""
        model_version_delete(version=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def retrain(self, request, pk=None):
        job = model_retrain(parent=self.get_object(), user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PredictionRequestSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def predict(self, request, pk=None):
        version = self.get_object()
        self.require(version, Action.MANAGE)
        serializer = PredictionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = prediction_start(
            version=version,
            scene_ids=data["scenes"],
            user=request.user,
            threshold=data["threshold"],
            min_area_m2=data["min_area_m2"],
            split=data["split"],
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="curves")
    def curves(self, request, pk=None):
        version = self.get_object()
        path = media_path(f"{version.directory}/curves.png") if version.directory else None
        if path is None or not path.exists():
            raise Http404("No curves yet: they appear after the first epoch.")
        return FileResponse(path.open("rb"), content_type="image/png")


def _pretrained(project: Project, pk: int | None) -> ModelVersion | None:
    if pk is None:
        return None
    version = ModelVersion.objects.filter(project=project, pk=pk).first()
    if version is None:
        raise InvalidInput(f"No model version {pk} in {project.name} to start from.")
    return version
