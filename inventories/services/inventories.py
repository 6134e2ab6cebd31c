"""Importing and exporting inventories and mapped extents, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
from django.conf import settings
from django.db import IntegrityError, transaction
from pyproj import CRS
from pyproj.exceptions import CRSError

from inventories.errors import InvalidInput
from inventories.models import Inventory, Landslide, LandslideChange, MappedExtent, Project
from inventories.services.geometry import to_geos_multipolygon, to_shapely
from mlcore.vector import SUPPORTED_SUFFIXES, PolygonFile, read_polygons, write_polygons

Progress = Callable[[float, str], None]
BATCH = 2000

# Columns a file may carry that map onto Landslide fields rather than free attributes.
_TYPE_VALUES = {c.value for c in Landslide.Type}
_CERTAINTY_VALUES = {c.value for c in Landslide.Certainty}
_EXPORT_FIELDS = ("landslide_type", "certainty", "confidence", "review_state", "notes")


def _no_progress(fraction: float, message: str) -> None:
    pass


def read_inventory_file(path: Path, *, layer: str | None = None) -> PolygonFile:
    return read_polygons(
        path,
        max_bytes=settings.SCARP_MAX_VECTOR_BYTES,
        max_features=settings.SCARP_MAX_VECTOR_FEATURES,
        layer=layer,
    )


def inventory_import(
    *,
    project: Project,
    path: Path,
    name: str,
    kind: str = Inventory.Kind.REFERENCE,
    original_filename: str = "",
    layer: str | None = None,
    user=None,
    progress: Progress = _no_progress,
) -> Inventory:
    """Create an inventory from a vector file. Any bad feature refuses the whole file."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the inventory a name.")
    if Inventory.objects.filter(project=project, name=name).exists():
        raise InvalidInput(f"{project.name} already has an inventory named {name!r}.")
    progress(0.05, "Reading and validating the file")
    parsed = read_inventory_file(path, layer=layer)
    frame = parsed.frame
    # Nothing inside the transaction reports progress: its writes to the job row would stay
    # unseen until the commit and hold that row's lock against the job's heartbeat.
    progress(0.4, f"Storing {len(frame)} landslides")
    try:
        with transaction.atomic():
            inventory = Inventory.objects.create(
                project=project,
                name=name,
                kind=kind,
                source_filename=original_filename or path.name,
                source_format=parsed.source_format,
                source_crs=parsed.source_crs,
                created_by=user,
            )
            landslides_bulk_insert(inventory, frame, user=user)
    except IntegrityError:
        raise InvalidInput(f"{project.name} already has an inventory named {name!r}.") from None
    progress(1.0, f"Imported {len(frame)} landslides ({len(parsed.repaired)} repaired)")
    return inventory


def landslides_bulk_insert(inventory: Inventory, frame: gpd.GeoDataFrame, *, user) -> None:
    """Insert a frame (EPSG:4326 MultiPolygons, area_m2, repaired, attribute columns) in batches."""
    attribute_columns = [c for c in frame.columns if c not in ("geometry", "area_m2", "repaired")]
    total = len(frame)
    for start in range(0, total, BATCH):
        chunk = frame.iloc[start : start + BATCH]
        rows = []
        for geom, area, repaired, attrs in zip(
            chunk.geometry,
            chunk["area_m2"],
            chunk["repaired"],
            chunk[attribute_columns].to_dict("records"),
            strict=True,
        ):
            rows.append(
                Landslide(
                    inventory=inventory,
                    geometry=to_geos_multipolygon(geom),
                    area_m2=float(area),
                    repaired=bool(repaired),
                    created_by=user,
                    updated_by=user,
                    **_known_fields(attrs),
                    attributes=attrs,
                )
            )
        created = Landslide.objects.bulk_create(rows)
        LandslideChange.objects.bulk_create(
            LandslideChange(
                landslide=ls,
                landslide_pk=ls.pk,
                inventory=inventory,
                action=LandslideChange.Action.CREATE,
                version=1,
                geometry=ls.geometry,
                data={"source": "import", "file": inventory.source_filename},
                user=user,
            )
            for ls in created
        )


def _known_fields(attrs: dict) -> dict:
    """Fill type/certainty/confidence from same-named columns; the columns stay in attributes."""
    fields: dict = {}
    value = str(attrs.get("landslide_type") or attrs.get("type") or "").lower()
    if value in _TYPE_VALUES:
        fields["landslide_type"] = value
    value = str(attrs.get("certainty") or "").lower()
    if value in _CERTAINTY_VALUES:
        fields["certainty"] = value
    confidence = attrs.get("confidence")
    if isinstance(confidence, int | float) and 0 <= confidence <= 1:
        fields["confidence"] = float(confidence)
    return fields


def extents_import(
    *, inventory: Inventory, path: Path, split: str | None = None, user=None
) -> list[MappedExtent]:
    """Import mapped extents; the split comes from `split` or the file's `split` column."""
    parsed = read_inventory_file(path)
    frame = parsed.frame
    valid = {c.value for c in MappedExtent.Split}
    if split is None:
        if "split" not in frame.columns:
            raise InvalidInput(
                f"{path.name} has no 'split' column; add one (train, validation or test) "
                "or choose the split for the whole file."
            )
        bad = sorted({str(v) for v in frame["split"] if str(v) not in valid})
        if bad:
            raise InvalidInput(
                f"{path.name}: unknown split value(s) {', '.join(bad)}; use train, "
                "validation or test."
            )
        splits = [str(v) for v in frame["split"]]
    else:
        if split not in valid:
            raise InvalidInput(f"Unknown split {split!r}; use train, validation or test.")
        splits = [split] * len(frame)
    with transaction.atomic():
        return MappedExtent.objects.bulk_create(
            MappedExtent(
                inventory=inventory,
                geometry=to_geos_multipolygon(geom),
                split=s,
                name=str(frame["name"].iloc[i]) if "name" in frame.columns else "",
                created_by=user,
            )
            for i, (geom, s) in enumerate(zip(frame.geometry, splits, strict=True))
        )


def inventory_frame(inventory: Inventory, *, progress: Progress = _no_progress) -> gpd.GeoDataFrame:
    """The inventory as a GeoDataFrame in EPSG:4326, read in chunks."""
    records, geoms = [], []
    total = max(inventory.landslides.count(), 1)
    queryset = inventory.landslides.order_by("pk").only(
        "pk", "geometry", "area_m2", "attributes", *_EXPORT_FIELDS
    )
    for ls in queryset.iterator(chunk_size=BATCH):
        geoms.append(to_shapely(ls.geometry))
        record = dict(ls.attributes)
        record.update({f: getattr(ls, f) for f in _EXPORT_FIELDS})
        record["scarp_id"] = ls.pk
        record["area_m2"] = ls.area_m2
        records.append(record)
        if len(records) % BATCH == 0:
            progress(0.8 * len(records) / total, f"Read {len(records)} of {total} landslides")
    return gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")


def export_crs(crs: str | None) -> str | None:
    """The CRS asked for an export, checked before anything is read or queued."""
    if crs is None or not crs.strip():
        return None
    try:
        CRS.from_user_input(crs.strip())
    except CRSError:
        raise InvalidInput(
            f"Unknown coordinate reference system {crs!r}; give an EPSG code such as "
            "EPSG:32647 (or leave it out for the inventory's own CRS)."
        ) from None
    return crs.strip()


def inventory_export(
    *,
    inventory: Inventory,
    path: Path,
    crs: str | None = None,
    progress: Progress = _no_progress,
) -> Path:
    """Write the inventory to `path` (.geojson, .gpkg or .zip for a zipped Shapefile).

    GeoPackage and Shapefile default to the CRS the inventory was imported in,
    so a round trip gives back the file's coordinates; GeoJSON is always WGS84.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInput(
            f"Cannot export to {path.name}; use one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    if suffix == ".kml":
        raise InvalidInput("Export to KML is not offered; use .geojson, .gpkg or .zip.")
    target_crs = export_crs(crs) or inventory.source_crs or "EPSG:4326"
    frame = inventory_frame(inventory, progress=progress)
    progress(0.85, f"Writing {len(frame)} landslides")
    return write_polygons(frame, path, crs=target_crs)
