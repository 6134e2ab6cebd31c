"""The body of a STAC import: an Item or ItemCollection, as a file or as JSON."""

from __future__ import annotations

from rest_framework import serializers

from inventories.models import Scene


class StacImportSerializer(serializers.Serializer):
    """A STAC Item or ItemCollection: uploaded as a file, or as JSON in `document`."""

    file = serializers.FileField(required=False)
    document = serializers.JSONField(required=False)
    kind = serializers.ChoiceField(
        choices=[Scene.Kind.OPTICAL, Scene.Kind.DEM], default=Scene.Kind.OPTICAL
    )
    phase = serializers.ChoiceField(choices=Scene.Phase.choices, default=Scene.Phase.POST)
