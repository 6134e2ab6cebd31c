"""Importing imagery: validate, convert to a COG, describe, derive terrain layers."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from inventories.errors import InvalidInput
from inventories.models import Project, Scene
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path, new_relative_path, staged_files
from inventories.services.names import check_name, fit_name
from inventories.services.tile_cache import scene_tiles_forget
from mlcore.raster import (
    BandStats,
    RasterInfo,
    RasterTooLarge,
    band_statistics,
    footprint_wgs84,
    inspect_geotiff,
    write_cog,
    write_hillshade,
    write_slope,
)

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    pass


def scene_check(path: Path, *, band_names: Sequence[str] | None = None) -> RasterInfo:
    """Refuse a raster before anything is stored: not a GeoTIFF, no CRS, too large.

    Too large counts what the header declares, in samples and in bytes: a
    sparse or compressed file of a few kilobytes can declare tens of gigabytes,
    which the conversion to a COG would then write out in full.
    """
    info = inspect_geotiff(path, max_samples=settings.SCARP_MAX_RASTER_SAMPLES)
    declared = info.samples * np.dtype(info.dtype).itemsize
    if declared > settings.SCARP_MAX_RASTER_BYTES:
        raise RasterTooLarge(
            f"{path.name} declares {declared / 1e9:,.1f} GB of pixels ({info.width} x "
            f"{info.height} pixels, {info.count} bands of {info.dtype}), more than the limit "
            f"of {settings.SCARP_MAX_RASTER_BYTES / 1e9:,.1f} GB (SCARP_MAX_RASTER_BYTES); "
            "cut it into smaller scenes and upload them one by one."
        )
    if band_names and len(band_names) != info.count:
        raise InvalidInput(
            f"{len(band_names)} band names were given ({', '.join(band_names)}) but the image "
            f"has {info.count} bands; give one name per band."
        )
    return info


def scene_import(
    *,
    project: Project,
    source: Path,
    name: str = "",
    kind: str = Scene.Kind.OPTICAL,
    phase: str = Scene.Phase.POST,
    band_names: Sequence[str] | None = None,
    acquired_on: dt.date | None = None,
    original_filename: str = "",
    user=None,
    progress: Progress = _no_progress,
) -> list[Scene]:
    """Store `source` as a COG Scene (and, for a DEM, its slope and hillshade).

    All or nothing: if any step fails, no Scene row and no file is left behind.
    The caller keeps ownership of `source`.
    """
    if kind not in {Scene.Kind.OPTICAL, Scene.Kind.DEM, Scene.Kind.PROBABILITY}:
        raise InvalidInput(f"Cannot import a scene of kind {kind!r}; use optical or dem.")
    if kind == Scene.Kind.DEM and band_names is None:
        band_names = ["elevation"]
    info = scene_check(source, band_names=band_names)
    if kind == Scene.Kind.DEM and info.count != 1:
        raise InvalidInput(f"A DEM must have one band; {source.name} has {info.count}.")
    # A name too long for the column is refused; a long file name is cut to fit.
    name = (
        check_name(name, what="The scene name")
        if name
        else fit_name(Path(original_filename or source.name).stem)
    )
    names = list(band_names or _default_band_names(info))

    with staged_files() as written:
        progress(0.1, "Converting to a Cloud-Optimised GeoTIFF")
        main = _store_cog(source, "scenes", written, nodata=info.nodata, stem=kind, bands=names)
        specs = [(main, kind, name, names)]
        if kind == Scene.Kind.DEM:
            with tempfile.TemporaryDirectory(dir=settings.MEDIA_ROOT) as tmp:
                progress(0.5, "Computing slope")
                slope_tmp = Path(tmp) / "slope.tif"
                write_slope(source, slope_tmp)
                slope = _store_cog(
                    slope_tmp, "scenes", written, nodata=-9999, stem="slope", bands=["slope"]
                )
                progress(0.7, "Computing hillshade")
                shade_tmp = Path(tmp) / "hillshade.tif"
                write_hillshade(source, shade_tmp)
                shade = _store_cog(
                    shade_tmp, "scenes", written, nodata=0, stem="hillshade", bands=["hillshade"]
                )
            specs.append((slope, Scene.Kind.SLOPE, fit_name(name, " slope"), ["slope"]))
            specs.append((shade, Scene.Kind.HILLSHADE, fit_name(name, " hillshade"), ["hillshade"]))
        progress(0.85, "Computing statistics")
        with transaction.atomic():
            scenes: list[Scene] = []
            for relative, scene_kind, scene_name, scene_bands in specs:
                scenes.append(
                    scene_register(
                        project=project,
                        relative=relative,
                        kind=scene_kind,
                        name=scene_name,
                        band_names=scene_bands,
                        phase=phase,
                        acquired_on=acquired_on,
                        original_filename=original_filename or source.name,
                        source=scenes[0] if scenes else None,
                        user=user,
                    )
                )
    progress(1.0, "Imported")
    return scenes


def _default_band_names(info: RasterInfo) -> list[str]:
    return [desc or f"band {i}" for i, desc in enumerate(info.band_descriptions, start=1)]


def _store_cog(
    source: Path,
    folder: str,
    written: list[Path],
    *,
    nodata: float | None,
    stem: str,
    bands: Sequence[str],
) -> str:
    """Write source as a COG under MEDIA_ROOT whose band descriptions are `bands`.

    The names go into the file, not only the Scene row, so that mlcore and
    QGIS reading the COG see the same bands as the web app.
    """
    relative = new_relative_path(folder, ".tif", stem=stem)
    target = media_path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    written.append(target)
    write_cog(source, target, nodata=nodata, descriptions=bands)
    return relative


def scene_register(*, relative: str, band_names: list[str], **fields) -> Scene:
    """Describe a COG the server wrote under MEDIA_ROOT as a Scene row."""
    path = media_path(relative)
    info = inspect_geotiff(path, max_samples=settings.SCARP_MAX_RASTER_SAMPLES)
    stats = band_statistics(path)
    footprint = footprint_wgs84(path)
    return Scene.objects.create(
        file=relative,
        size_bytes=path.stat().st_size,
        checksum=file_checksum(path),
        width=info.width,
        height=info.height,
        band_count=info.count,
        band_names=band_names,
        dtype=info.dtype,
        crs_wkt=info.crs_wkt,
        epsg=info.epsg,
        resolution_x=info.resolution[0],
        resolution_y=info.resolution[1],
        nodata=info.nodata,
        footprint=GEOSGeometry(footprint.wkb_hex, srid=4326),
        band_stats=[_stats_dict(s) for s in stats],
        created_by=fields.pop("user"),
        **fields,
    )


def file_checksum(path: Path) -> str:
    """sha256 of a file the server wrote: what the tile cache keys a scene's pixels by.

    Read once at import (about a second per GB), never per tile.
    """
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _stats_dict(stats: BandStats) -> dict[str, float]:
    return {
        "p2": stats.p2,
        "p98": stats.p98,
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.min,
        "max": stats.max,
        "valid_fraction": stats.valid_fraction,
    }


def scene_delete(*, scene: Scene, user) -> None:
    """Delete a scene, its derived scenes and their files (files after the commit); the
    project's admins only."""
    require(user, scene.project, Action.MANAGE)
    paths = [scene.path] + [d.path for d in scene.derived.all()]
    pks = [scene.pk, *scene.derived.values_list("pk", flat=True)]
    with transaction.atomic():
        scene.delete()
        transaction.on_commit(lambda: [_remove_file(Path(p)) for p in paths])
        transaction.on_commit(lambda: [scene_tiles_forget(pk) for pk in pks])


def _remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    if path.parent.name != "scenes":  # the file's own uuid folder
        with contextlib.suppress(OSError):
            path.parent.rmdir()
