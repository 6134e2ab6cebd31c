"""A small synthetic landslide scene: textured slopes, bright irregular scars, a DEM.

Written as real GeoTIFFs and GeoPackages in tmp_path, with the labels in
EPSG:4326 while the rasters are in UTM 47N, so every test crosses a CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy.ndimage import gaussian_filter

from tests.factories.rasters import UTM47N, write_geotiff

ORIGIN = (500_000.0, 3_450_000.0)


@dataclass
class SyntheticScene:
    image: Path
    dem: Path
    landslides: Path
    extents: Path
    mask: np.ndarray  # the burnt landslide mask on the image grid
    resolution: float


def _blob(rng: np.random.Generator, cx: float, cy: float, radius: float) -> shapely.Polygon:
    """A star-shaped irregular polygon, like a scar outline."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    radii = radius * rng.uniform(0.6, 1.3, len(angles))
    radii = np.convolve(np.r_[radii[-2:], radii, radii[:2]], np.ones(5) / 5, "valid")
    stretch = rng.uniform(0.6, 1.6)
    return shapely.Polygon(
        zip(cx + radii * np.cos(angles) * stretch, cy + radii * np.sin(angles), strict=True)
    )


def make_scene(
    directory: Path,
    *,
    size: int = 256,
    resolution: float = 1.0,
    blobs: int = 14,
    seed: int = 0,
    nodata_rows: int = 0,
    dem_resolution: float | None = None,
    origin: tuple[float, float] = ORIGIN,
) -> SyntheticScene:
    """Write image.tif (RGB uint8, nodata 0), dem.tif, landslides.gpkg, extents.gpkg.

    Extents: the left half is `train`, the right half `validation` (4 px apart).
    `nodata_rows` blacks out the top rows of the image (nodata). `dem_resolution`
    puts the DEM on a coarser grid of its own, to exercise the warp.
    """
    rng = np.random.default_rng(seed)
    transform = from_origin(*origin, resolution, resolution)
    x0, y1 = origin
    span = size * resolution
    shapes = []
    for i in range(blobs):
        half = i % 2
        cx = x0 + span * (0.08 + 0.34 * rng.random() + 0.5 * half)
        cy = y1 - span * (0.1 + 0.8 * rng.random())
        shapes.append(_blob(rng, cx, cy, span * rng.uniform(0.03, 0.06)))
    mask = rasterize([(s, 1) for s in shapes], out_shape=(size, size), transform=transform)
    texture = gaussian_filter(rng.normal(0, 1, (3, size, size)), (0, 2, 2)) * 40
    image = 90 + texture + mask[None] * np.array([85, 70, 55])[:, None, None]
    image += rng.normal(0, 6, image.shape)
    image = np.clip(image, 1, 255).astype(np.uint8)
    if nodata_rows:
        image[:, :nodata_rows] = 0
    directory.mkdir(parents=True, exist_ok=True)
    image_path = write_geotiff(
        directory / "image.tif",
        image,
        transform=transform,
        nodata=0,
        band_names=["red", "green", "blue"],
    )
    dem_res = dem_resolution or resolution
    dem_size = int(np.ceil(span / dem_res))
    yy, xx = np.mgrid[0:dem_size, 0:dem_size] * dem_res
    dem = 3000 + 0.4 * xx - 0.2 * yy + gaussian_filter(rng.normal(0, 3, xx.shape), 3)
    dem_mask = rasterize(
        [(s, 1) for s in shapes],
        out_shape=dem.shape,
        transform=from_origin(*origin, dem_res, dem_res),
    )
    dem = (dem - 4 * dem_mask).astype(np.float32)
    dem_path = write_geotiff(
        directory / "dem.tif", dem, origin=origin, resolution=dem_res, nodata=-9999.0
    )
    labels = gpd.GeoDataFrame({"class": [1] * len(shapes)}, geometry=shapes, crs=UTM47N)
    labels.to_crs("EPSG:4326").to_file(directory / "landslides.gpkg", layer="landslides")
    mid = x0 + span / 2
    extents = gpd.GeoDataFrame(
        {"split": ["train", "validation"]},
        geometry=[
            shapely.box(x0, y1 - span, mid - 2 * resolution, y1),
            shapely.box(mid + 2 * resolution, y1 - span, x0 + span, y1),
        ],
        crs=UTM47N,
    )
    extents.to_crs("EPSG:4326").to_file(directory / "extents.gpkg", layer="extent")
    return SyntheticScene(
        image_path,
        dem_path,
        directory / "landslides.gpkg",
        directory / "extents.gpkg",
        mask,
        resolution,
    )
