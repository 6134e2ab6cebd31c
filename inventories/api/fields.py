"""Serializer fields of our own shapes."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

GEOJSON_AREA_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "A GeoJSON Polygon or MultiPolygon in longitude/latitude (EPSG:4326).",
    "properties": {
        "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array", "items": {"type": "array"}},
    },
    "required": ["type", "coordinates"],
}


@extend_schema_field(GEOJSON_AREA_SCHEMA)
class GeoJSONAreaField(serializers.Field):
    """A stored lon/lat area out as a GeoJSON geometry; in, the client's value as it came.

    The service parses and checks it (with shapely, never GDAL), so its rules and
    messages are the same for every caller; the field only carries it.
    """

    def to_representation(self, value) -> dict[str, Any]:
        return json.loads(value.geojson)

    def to_internal_value(self, data: Any) -> Any:
        return data
