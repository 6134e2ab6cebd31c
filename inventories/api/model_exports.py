"""`GET /api/models/{id}/onnx/`: a ready model as ONNX, for QGIS Deepness and onnxruntime.

The first request queues the export and answers 202 with its job (asking
again follows the same job); once the job has succeeded the same URL gives
the file. Any member may download; anyone else gets 404.
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.serializers.jobs import JobSerializer
from inventories.errors import NotFound
from inventories.models import ModelVersion
from inventories.selectors.projects import projects_for_user
from inventories.services import model_exports


class ModelOnnxView(APIView):
    @extend_schema(
        responses={
            (200, model_exports.ONNX_TYPE): OpenApiTypes.BINARY,
            202: JobSerializer,
        },
        summary="The model as ONNX (202 with the export job until it is written)",
    )
    def get(self, request, pk: int):
        version = ModelVersion.objects.filter(
            project__in=projects_for_user(request.user), pk=pk
        ).first()
        if version is None:
            raise NotFound("No such model.")
        try:
            path = model_exports.onnx_download(version)
        except NotFound:
            job = model_exports.onnx_export_start(version=version, user=request.user)
            return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        name = f"scarp-model-{version.pk}.onnx"
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=name, content_type=model_exports.ONNX_TYPE
        )
