"""Projects and their memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from inventories.api.fields import GeoJSONAreaField
from inventories.models import Membership, Project
from inventories.permissions import role_of


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
