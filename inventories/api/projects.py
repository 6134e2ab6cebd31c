from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import mixins, status
from rest_framework.response import Response

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.projects import MembershipSerializer, ProjectSerializer
from inventories.models import Membership, Project
from inventories.permissions import Action
from inventories.selectors.projects import project_get, projects_for_user
from inventories.services.deletion import project_delete
from inventories.services.projects import (
    member_remove,
    member_set,
    project_create,
    project_update,
)


class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    project_lookup = "pk"

    def get_queryset(self):
        return projects_for_user(self.request.user).distinct()

    def project_of(self, obj):
        return obj

    def perform_create(self, serializer):
        serializer.instance = project_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = project_update(
            project=serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        project_delete(project=instance, user=self.request.user)


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    """Members of one project: /api/projects/{project_pk}/members/."""

    queryset = Membership.objects.select_related("user", "project")
    serializer_class = MembershipSerializer

    def get_project(self, action: Action = Action.VIEW) -> Project:
        return project_get(user=self.request.user, pk=int(self.kwargs["project_pk"]), action=action)

    def get_queryset(self):
        return super().get_queryset().filter(project=self.get_project())

    def create(self, request, *args, **kwargs):
        project = self.get_project(Action.MANAGE)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = member_set(
            project=project,
            user=serializer.validated_data["user"],
            role=serializer.validated_data.get("role", "annotator"),
            by=request.user,
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        """Only the role changes; the service keeps the project's last admin."""
        serializer.instance = member_set(
            project=serializer.instance.project,
            user=serializer.instance.user,
            role=serializer.validated_data.get("role", serializer.instance.role),
            by=self.request.user,
        )

    def perform_destroy(self, instance):
        member_remove(membership=instance, by=self.request.user)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
