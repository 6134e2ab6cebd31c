"""OGC API - Features documents for a project's inventories, read-only.

QGIS, GDAL's OAPIF driver and other GIS clients read a project as an OGC
API - Features service: the landing page is the project, each inventory a
collection, each landslide a feature in CRS84 (longitude, latitude, as the
rows are stored). These functions only read; the views add the caller's
scope (a project the caller is not a member of is never found) and the
absolute base URL every link is built from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.gis.db.models.aggregates import Extent
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import QuerySet

from inventories.errors import InvalidInput, NotFound
from inventories.models import Inventory, Landslide, Project
from inventories.selectors.landslides import landslides_in_bbox, parse_bbox

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT = 100
# The columns of a landslide a client gets as the feature's properties.
PROPERTIES = (
    "inventory_id",
    "area_m2",
    "landslide_type",
    "certainty",
    "confidence",
    "review_state",
    "notes",
    "repaired",
    "version",
    "attributes",
)


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def landing_page(*, project: Project, base: str, schema_url: str) -> dict[str, Any]:
    """The project as a service: where its conformance, API and collections are."""
    return {
        "title": project.name,
        "description": project.description or f"Landslide inventories of {project.name}.",
        "links": [
            _link(base, "self", JSON, "This document"),
            _link(schema_url, "service-desc", OPENAPI, "The API definition"),
            _link(f"{base}conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}collections", "data", JSON, "The inventories"),
        ],
    }


def conformance() -> dict[str, list[str]]:
    return {"conformsTo": CONFORMANCE}


def _inventories(project: Project) -> QuerySet[Inventory]:
    """The project's inventories, each with the box around its landslides (one query)."""
    return project.inventories.annotate(box=Extent("landslides__geometry")).order_by("pk")


def inventory_in_project(*, project: Project, collection_id: str) -> Inventory:
    """The inventory a collection id names, only within this project (else NotFound)."""
    inventory = None
    if collection_id.isdigit():
        inventory = _inventories(project).filter(pk=int(collection_id)).first()
    if inventory is None:
        raise NotFound(f"{project.name} has no inventory (collection) {collection_id!r}.")
    return inventory


def collection(*, inventory: Inventory, base: str) -> dict[str, Any]:
    """One inventory (from `_inventories`) as a collection: title, box, links."""
    href = f"{base}collections/{inventory.pk}"
    document: dict[str, Any] = {
        "id": str(inventory.pk),
        "title": inventory.name,
        "description": inventory.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(href, "self", JSON, "This collection"),
            _link(f"{href}/items", "items", GEOJSON, f"The landslides of {inventory.name}"),
        ],
    }
    box = inventory.box  # annotated by _inventories, which every caller reads through
    if box is not None:
        document["extent"] = {"spatial": {"bbox": [list(box)], "crs": CRS84}}
    return document


def collections(*, project: Project, base: str) -> dict[str, Any]:
    return {
        "links": [_link(f"{base}collections", "self", JSON, "The inventories")],
        "collections": [
            collection(inventory=inventory, base=base) for inventory in _inventories(project)
        ],
    }


def _feature(row: Landslide) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row.pk,
        "geometry": json.loads(row.geometry_json),
        "properties": {name: getattr(row, name) for name in PROPERTIES},
    }


def _whole_number(value: str | None, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise InvalidInput(f"{name} must be a whole number of 0 or more, not {value!r}.")
    return int(value)


@dataclass(frozen=True)
class ItemsQuery:
    """A checked `items` request: the box, the page size (capped) and where the page starts."""

    bbox: str | None
    limit: int
    offset: int

    @classmethod
    def parse(cls, params) -> ItemsQuery:
        limit = _whole_number(params.get("limit"), "limit", DEFAULT_LIMIT)
        if limit < 1:
            raise InvalidInput("limit must be at least 1.")
        return cls(
            bbox=params.get("bbox") or None,
            limit=min(limit, settings.SCARP_MAX_PAGE_SIZE),
            offset=_whole_number(params.get("offset"), "offset", 0),
        )


def _geojson_rows(queryset: QuerySet[Landslide]) -> QuerySet[Landslide]:
    return queryset.annotate(geometry_json=AsGeoJSON("geometry")).defer("geometry")


def items(*, inventory: Inventory, query: ItemsQuery, base: str) -> dict[str, Any]:
    """One page of an inventory's landslides as a GeoJSON FeatureCollection with paging links."""
    matching = landslides_in_bbox(inventory=inventory, bbox=parse_bbox(query.bbox))
    matched = matching.count()
    rows = list(_geojson_rows(matching)[query.offset : query.offset + query.limit])
    href = f"{base}collections/{inventory.pk}/items"

    def page(offset: int) -> str:
        params = {"limit": query.limit, "offset": offset}
        if query.bbox:
            params["bbox"] = query.bbox
        return f"{href}?{urlencode(params, safe=',')}"

    links = [_link(page(query.offset), "self", GEOJSON, "This page")]
    if query.offset + len(rows) < matched:
        links.append(_link(page(query.offset + query.limit), "next", GEOJSON, "Next page"))
    if query.offset > 0:
        links.append(_link(page(max(query.offset - query.limit, 0)), "prev", GEOJSON, "Previous"))
    return {
        "type": "FeatureCollection",
        "features": [_feature(row) for row in rows],
        "numberMatched": matched,
        "numberReturned": len(rows),
        "links": links,
    }


def item(*, inventory: Inventory, feature_id: str, base: str) -> dict[str, Any]:
    """One landslide of the inventory as a GeoJSON Feature (else NotFound)."""
    row = None
    if feature_id.isdigit():
        row = _geojson_rows(inventory.landslides.filter(pk=int(feature_id))).first()
    if row is None:
        raise NotFound(f"{inventory.name} has no landslide (feature) {feature_id!r}.")
    feature = _feature(row)
    href = f"{base}collections/{inventory.pk}"
    feature["links"] = [
        _link(f"{href}/items/{row.pk}", "self", GEOJSON, "This landslide"),
        _link(href, "collection", JSON, inventory.name),
    ]
    return feature
