"""Inventories: the inventory itself (read and edited), and the upload form."""

from __future__ import annotations

from rest_framework import serializers

from inventories.models import Inventory
from inventories.selectors.projects import projects_for_user


class InventorySerializer(serializers.ModelSerializer):
    landslide_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Inventory
        # Set by an import, a prediction or the database: shown, never edited through the API.
        read_only_fields = [
            "source_filename",
            "source_format",
            "source_crs",
            "model_version",
            "created_at",
            "landslide_count",
        ]
        fields = ["id", "project", "name", "kind", "status", "description", *read_only_fields]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Unknown and foreign projects get the same answer: nothing leaks.
            self.fields["project"].queryset = projects_for_user(request.user)


class InventoryUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Inventory.Kind.choices, default="reference")
    layer = serializers.CharField(required=False, allow_blank=True)
