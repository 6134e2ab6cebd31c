"""Small real GeoTIFFs for tests, written with rasterio into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

UTM47N = "EPSG:32647"


def write_geotiff(
    path: Path,
    array: np.ndarray,
    *,
    crs: str | None = UTM47N,
    transform=None,
    nodata: float | None = None,
    origin: tuple[float, float] = (500_000.0, 3_450_000.0),
    resolution: float = 1.0,
    band_names: list[str] | None = None,
    tiled: bool = False,
) -> Path:
    """Write a (bands, rows, cols) or (rows, cols) array as a GeoTIFF and return its path."""
    if array.ndim == 2:
        array = array[np.newaxis]
    count, height, width = array.shape
    if transform is None:
        transform = from_origin(origin[0], origin[1], resolution, resolution)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": array.dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if band_names:
            for i, name in enumerate(band_names, start=1):
                dst.set_band_description(i, name)
    return path
