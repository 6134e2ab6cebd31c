from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.imagery import SceneSerializer, SceneUploadSerializer
from inventories.api.serializers.jobs import JobSerializer
from inventories.models import Scene
from inventories.permissions import Action
from inventories.selectors.projects import project_get
from inventories.services.scenes import scene_delete
from inventories.services.uploads import scene_upload_start


class SceneViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ProjectScopedViewSet
):
    queryset = Scene.objects.select_related("project")
    serializer_class = SceneSerializer

    def perform_destroy(self, instance):
        scene_delete(scene=instance, user=self.request.user)


class SceneUploadView(APIView):
    """Upload a GeoTIFF (optical or DEM). Refused at once if it is not a georeferenced
    GeoTIFF within the size budget; otherwise an import job converts it to a COG."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=SceneUploadSerializer, responses={202: JobSerializer})
    def post(self, request, project_pk: int):
        project = project_get(user=request.user, pk=project_pk, action=Action.MANAGE)
        serializer = SceneUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        band_names = [b.strip() for b in data.get("band_names", "").split(",") if b.strip()]
        job = scene_upload_start(
            project=project,
            uploaded=data["file"],
            user=request.user,
            name=data.get("name", ""),
            kind=data["kind"],
            phase=data["phase"],
            band_names=band_names or None,
            acquired_on=data.get("acquired_on"),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
