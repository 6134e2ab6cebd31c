"""Shared pieces of the API views: scoping to the caller's projects and role checks."""

from __future__ import annotations

from rest_framework import viewsets

from inventories.permissions import Action
from inventories.selectors.projects import projects_for_user, require


class ProjectScopedViewSet(viewsets.GenericViewSet):
    """Lists and lookups only ever see objects of the caller's projects.

    `project_lookup` is the queryset path from the model to its Project. An
    object of another project is simply not found (404), so nothing leaks.
    """

    project_lookup = "project"

    def get_queryset(self):
        queryset = super().get_queryset()
        projects = projects_for_user(self.request.user)
        queryset = queryset.filter(**{f"{self.project_lookup}__in": projects})
        project_id = self.request.query_params.get("project")
        if project_id and project_id.isdigit():
            queryset = queryset.filter(**{f"{self.project_lookup}_id": int(project_id)})
        return queryset

    def project_of(self, obj):
        for part in self.project_lookup.split("__"):
            obj = getattr(obj, part)
        return obj

    def require(self, obj, action: Action) -> None:
        require(self.request.user, self.project_of(obj), action)

    def conflict_serializer(self, instance, **kwargs):
        return self.get_serializer_class()(instance, **kwargs)
