"""The model registry: versions, training, pretraining, promotion, retraining, curves."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.jobs import JobSerializer
from inventories.api.serializers.models import (
    ModelVersionSerializer,
    PredictionStartSerializer,
    PretrainingStartSerializer,
    TrainingStartSerializer,
)
from inventories.errors import InvalidInput
from inventories.models import ModelVersion, Project
from inventories.permissions import Action
from inventories.selectors.projects import project_get
from inventories.services.deletion import model_delete, model_version_delete
from inventories.services.files import media_path
from inventories.services.prediction import prediction_start
from inventories.services.pretraining import pretraining_start
from inventories.services.training import model_promote, model_retrain, training_start


class ModelVersionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ProjectScopedViewSet
):
    queryset = ModelVersion.objects.select_related("project", "parent", "pretrained_from")
    serializer_class = ModelVersionSerializer

    def perform_destroy(self, instance):
        model_delete(version=instance, user=self.request.user)

    @extend_schema(request=TrainingStartSerializer, responses={202: JobSerializer})
    def create(self, request):
        serializer = TrainingStartSerializer(data=request.data)
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

    @extend_schema(request=PretrainingStartSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def pretrain(self, request):
        """Pretrain a network on the project's unlabelled imagery (masked or denoising)."""
        serializer = PretrainingStartSerializer(data=request.data)
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

    @extend_schema(request=PredictionStartSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def predict(self, request, pk=None):
        version = self.get_object()
        self.require(version, Action.MANAGE)
        serializer = PredictionStartSerializer(data=request.data)
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
