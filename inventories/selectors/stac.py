"""STAC 1.1 views of a project: each scene an Item, the project a Collection.

Built with pystac from what the server stored: the COG asset (its band names
and statistics, raster extension), the projection extension from the COG's
header (the server's own file), the datetime from the acquisition date.
Validation uses pystac's validator with every schema local: pystac ships
the core STAC schemas, and the two extension schemas Scarp writes are
vendored under `inventories/stac_schemas/` (Apache-2.0, from
stac-extensions/projection v2.0.0 and stac-extensions/raster v1.1.0), so
nothing is downloaded; a schema that is not local is an error, not a fetch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
from django.conf import settings
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterBand, RasterExtension, Statistics
from pystac.validation import JsonSchemaSTACValidator

from inventories.models import Project, Scene
from mlcore.raster import geotiff

SCHEMAS = Path(__file__).resolve().parent.parent / "stac_schemas"
LOCAL_SCHEMAS = {
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json": "projection-v2.0.0.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster-v1.1.0.json",
}
COG_ASSET = "image"


def item_id(scene: Scene) -> str:
    return f"scene-{scene.pk}"


def _datetime(scene: Scene) -> dt.datetime:
    """Noon UTC of the acquisition day (a date has no time); the import time if unknown."""
    if scene.acquired_on:
        return dt.datetime.combine(scene.acquired_on, dt.time(12), tzinfo=dt.UTC)
    return scene.created_at


def scene_item(*, scene: Scene, cog_href: str, self_href: str | None = None) -> pystac.Item:
    """One scene as a STAC Item with its COG as the `image` asset."""
    info = geotiff.inspect_geotiff(scene.path, max_samples=settings.SCARP_MAX_RASTER_SAMPLES)
    footprint = json.loads(scene.footprint.geojson)
    item = pystac.Item(
        id=item_id(scene),
        geometry=footprint,
        bbox=list(scene.footprint.extent),
        datetime=_datetime(scene),
        properties={
            "title": scene.name,
            "scarp:kind": scene.kind,
            "scarp:phase": scene.phase,
            "scarp:acquired": scene.acquired_on.isoformat() if scene.acquired_on else None,
        },
    )
    asset = pystac.Asset(
        href=cog_href,
        media_type=pystac.MediaType.COG,
        roles=["data"],
        title=scene.original_filename or scene.name,
        extra_fields={"bands": [{"name": name} for name in scene.band_names]},
    )
    item.add_asset(COG_ASSET, asset)
    projection = ProjectionExtension.ext(item, add_if_missing=True)
    projection.code = f"EPSG:{scene.epsg}" if scene.epsg else None
    if not scene.epsg:
        projection.wkt2 = scene.crs_wkt
    projection.shape = [scene.height, scene.width]
    projection.transform = list(info.transform[:6])
    projection.bbox = list(info.bounds)
    raster = RasterExtension.ext(asset, add_if_missing=True)
    raster.apply(bands=[_raster_band(scene, i) for i in range(scene.band_count)])
    if self_href:
        item.set_self_href(self_href)
    return item


def _raster_band(scene: Scene, index: int) -> RasterBand:
    stats = scene.band_stats[index] if index < len(scene.band_stats) else {}
    return RasterBand.create(
        data_type=scene.dtype,
        nodata=scene.nodata,
        spatial_resolution=abs(scene.resolution_x) if scene.epsg != 4326 else None,
        statistics=Statistics.create(
            minimum=stats.get("min"),
            maximum=stats.get("max"),
            mean=stats.get("mean"),
            stddev=stats.get("std"),
            valid_percent=(stats["valid_fraction"] * 100) if "valid_fraction" in stats else None,
        )
        if stats
        else None,
    )


def project_collection(
    *, project: Project, item_href: Callable[[int], str], self_href: str
) -> pystac.Collection:
    """The project as a STAC Collection whose item links are its scenes' Items
    (`item_href(scene_pk)`), from one read of the scenes."""
    scenes = list(project.scenes.order_by("pk").only("footprint", "acquired_on", "created_at"))
    if scenes:
        boxes = [s.footprint.extent for s in scenes]
        bbox = [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
        times = [_datetime(s) for s in scenes]
        interval = [min(times), max(times)]
    else:
        bbox, interval = [-180.0, -90.0, 180.0, 90.0], [None, None]
    collection = pystac.Collection(
        id=f"project-{project.pk}",
        title=project.name,
        description=project.description or f"Imagery of {project.name}",
        extent=pystac.Extent(
            spatial=pystac.SpatialExtent([bbox]),
            temporal=pystac.TemporalExtent([interval]),
        ),
        license="other",
    )
    collection.set_self_href(self_href)
    for scene in scenes:
        collection.add_link(
            pystac.Link(pystac.RelType.ITEM, item_href(scene.pk), pystac.MediaType.GEOJSON)
        )
    return collection


class LocalSchemaValidator(JsonSchemaSTACValidator):
    """pystac's validator, with the vendored extension schemas and no downloads."""

    def __init__(self) -> None:
        super().__init__()
        for uri, name in LOCAL_SCHEMAS.items():
            self.schema_cache[uri] = json.loads((SCHEMAS / name).read_text())

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            raise pystac.errors.STACValidationError(
                f"The STAC schema {schema_uri} is not available offline; Scarp validates "
                "only against the core STAC 1.1 schemas and the projection v2.0.0 and "
                "raster v1.1.0 extensions."
            )
        return super()._get_schema(schema_uri)


def validate(document: dict[str, Any]) -> list[str]:
    """Validate a STAC dict with local schemas; gives the schema URIs it was checked against."""
    return pystac.validation.validate_dict(document, validator=LocalSchemaValidator())
