"""The signed-in person's API token: what they ask, and what they get."""

from __future__ import annotations

from rest_framework import serializers


class ApiTokenGetSerializer(serializers.Serializer):
    renew = serializers.BooleanField(default=False)


class ApiTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
