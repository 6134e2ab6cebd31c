from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.jobs import JobSerializer
from inventories.models import Job
from inventories.services.exports import export_download
from inventories.services.jobs import job_cancel


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet):
    """Background jobs of the caller's projects: state, progress, log; ?project=ID filters."""

    queryset = Job.objects.select_related("project", "created_by")
    serializer_class = JobSerializer

    @extend_schema(request=None, responses={200: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = job_cancel(job=self.get_object(), user=request.user)
        return Response(JobSerializer(job).data)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file a finished export job wrote."""
        path, content_type = export_download(self.get_object())
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type
        )
