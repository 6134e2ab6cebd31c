"""Terrain from a DEM: the one implementation of slope, hillshade and relief.

Training, prediction and the web app's DEM layers all call the kernels here
(`horn_gradients`, `slope_degrees`, `relief`), so a model's slope band is
the slope a user sees on the map. Each block or window is read with a halo
from its neighbours, so the result does not depend on the block size: no
seams along block borders, and a chip's terrain equals the whole scene's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio.windows import Window
from scipy import ndimage

from mlcore.atomic import atomic_path
from mlcore.raster.geotiff import RasterError, RasterInfo, SceneReader

SLOPE_NODATA = -9999.0
HILLSHADE_NODATA = 0

# A function of the east and north gradients (dz/dx, dz/dy, unitless) of one block.
Derivative = Callable[[np.ndarray, np.ndarray], np.ndarray]


def write_slope(dem: Path, out: Path, *, block_size: int = 1024) -> None:
    """Write the slope of dem in degrees (float32) by Horn's method, as gdaldem does.

    Pixels where the DEM is nodata become -9999. A nodata neighbour counts
    as the centre's height (like gdaldem -compute_edges), so holes do not
    grow. Along the raster's edge the missing neighbours repeat the nearest
    edge pixel, which roughly halves the gradient across the edge there.
    Elevations are taken to be metres. Pixel sizes of a projected CRS are
    converted to metres with its linear unit; for a geographic CRS, degrees
    become metres at the latitude of each block's centre, so slopes are
    right to a fraction of a percent for blocks under a degree tall.
    """
    _write_derivative(dem, out, slope_degrees, "float32", SLOPE_NODATA, "slope_degrees", block_size)


def write_hillshade(
    dem: Path,
    out: Path,
    *,
    azimuth: float = 315,
    altitude: float = 45,
    block_size: int = 1024,
) -> None:
    """Write a hillshade of dem lit from azimuth (clockwise from north) and altitude (degrees).

    Values are uint8 1..255 as gdaldem makes them (1 for faces turned away
    from the light) and 0 where the DEM is nodata; gradients, edges and
    pixel sizes are handled as in `write_slope`.
    """
    shade = partial(_hillshade, azimuth=azimuth, altitude=altitude)
    _write_derivative(dem, out, shade, "uint8", HILLSHADE_NODATA, "hillshade", block_size)


def slope_degrees(dzdx: np.ndarray, dzdy: np.ndarray) -> np.ndarray:
    """Slope in degrees (float32) from east and north gradients (unitless)."""
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def relief(z: np.ndarray, valid: np.ndarray, radius: int) -> np.ndarray:
    """Elevation above the mean of the valid elevations within `radius` pixels (a square).

    Absolute elevation says where a place lies in one valley; relief says
    whether it is a ridge, a slope or a channel floor, which transfers from
    one stretch of a valley to the next. Invalid pixels and pixels outside
    the array count for nothing (a normalised box filter), so a window read
    with a halo of `radius` gives exactly the whole scene's values. Float64
    keeps the running sums exact enough at elevations of thousands of metres.
    """
    if radius < 1:
        raise ValueError(f"The relief radius must be at least one pixel, not {radius}.")
    weight = valid.astype(np.float64)
    size = 2 * radius + 1
    total = ndimage.uniform_filter(np.where(valid, z, 0.0), size, mode="constant", cval=0.0)
    count = ndimage.uniform_filter(weight, size, mode="constant", cval=0.0)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 1e-9)
    return np.where(valid, z - mean, 0.0).astype(np.float32)


def _hillshade(
    dzdx: np.ndarray, dzdy: np.ndarray, *, azimuth: float, altitude: float
) -> np.ndarray:
    """Cosine of the angle between the surface normal (-dzdx, -dzdy, 1) and the sun."""
    az, alt = math.radians(azimuth), math.radians(altitude)
    sun_east, sun_north = math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt)
    cosine = (math.sin(alt) - dzdx * sun_east - dzdy * sun_north) / np.sqrt(
        1 + dzdx * dzdx + dzdy * dzdy
    )
    return np.where(cosine <= 0, 1, np.rint(1 + 254 * cosine)).astype(np.uint8)


def _write_derivative(
    dem: Path,
    out: Path,
    derivative: Derivative,
    dtype: str,
    nodata: float,
    description: str,
    block_size: int,
) -> None:
    dem = Path(dem)
    with SceneReader(dem) as reader:
        info = reader.info
        if info.count != 1:
            raise RasterError(
                f"{dem.name} has {info.count} bands, but a DEM has one band of elevations; "
                "extract the elevation band (e.g. gdal_translate -b 1) and upload it again."
            )
        pixel_size = _PixelSize(info, dem.name)
        profile = {
            "driver": "GTiff",
            "width": info.width,
            "height": info.height,
            "count": 1,
            "dtype": dtype,
            "nodata": nodata,
            "crs": info.crs_wkt,
            "transform": Affine(*info.transform),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "DEFLATE",
            "predictor": 3 if dtype == "float32" else 2,
            "bigtiff": "IF_SAFER",
        }
        with atomic_path(out) as tmp, rasterio.open(tmp, "w", **profile) as dst:
            dst.set_band_description(1, description)
            for window in reader.block_windows(block_size):
                z, valid = _read_with_halo(reader, window)
                dzdx, dzdy = horn_gradients(z, valid, *pixel_size.metres(window))
                values = derivative(dzdx, dzdy)
                values[~valid[1:-1, 1:-1]] = nodata
                dst.write(values, 1, window=window)


def _read_with_halo(reader: SceneReader, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Elevations and validity of window plus one pixel all round, edge-padded outside."""
    width, height = reader.info.width, reader.info.height
    c0, r0 = max(window.col_off - 1, 0), max(window.row_off - 1, 0)
    c1 = min(window.col_off + window.width + 1, width)
    r1 = min(window.row_off + window.height + 1, height)
    inner = Window(c0, r0, c1 - c0, r1 - r0)
    z = reader.read(inner, boundless=False)[0].astype(np.float64)
    valid = reader.read_mask(inner, boundless=False) & np.isfinite(z)
    pad = (
        (r0 - (window.row_off - 1), window.row_off + window.height + 1 - r1),
        (c0 - (window.col_off - 1), window.col_off + window.width + 1 - c1),
    )
    return np.pad(z, pad, mode="edge"), np.pad(valid, pad, mode="edge")


def horn_gradients(
    z: np.ndarray, valid: np.ndarray, xres: float, yres: float
) -> tuple[np.ndarray, np.ndarray]:
    """East and north gradients of z by Horn's 3x3 weighted differences, as gdaldem.

    `z` and `valid` carry a one-pixel halo; the result is the inner block.
    An invalid neighbour counts as the centre's height, so holes do not grow.
    """
    centre = z[1:-1, 1:-1]

    def at(dr: int, dc: int) -> np.ndarray:
        rows = slice(1 + dr, z.shape[0] - 1 + dr)
        cols = slice(1 + dc, z.shape[1] - 1 + dc)
        return np.where(valid[rows, cols], z[rows, cols], centre)

    a, b, c = at(-1, -1), at(-1, 0), at(-1, 1)
    d, f = at(0, -1), at(0, 1)
    g, h, i = at(1, -1), at(1, 0), at(1, 1)
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * xres)
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8 * yres)
    return dzdx, dzdy


class _PixelSize:
    """Pixel width and height in metres, per block for a geographic CRS."""

    def __init__(self, info: RasterInfo, name: str) -> None:
        self.info = info
        crs = pyproj.CRS.from_wkt(info.crs_wkt)
        self.geographic = crs.is_geographic
        if self.geographic:
            ellipsoid = crs.ellipsoid
            self.a = ellipsoid.semi_major_metre
            self.e2 = 1 - (ellipsoid.semi_minor_metre / self.a) ** 2
            self.radians_per_unit = crs.axis_info[0].unit_conversion_factor
        elif crs.is_projected:
            self.metres_per_unit = rasterio.crs.CRS.from_wkt(info.crs_wkt).linear_units_factor[1]
        else:
            raise RasterError(
                f"{name} is in a CRS that is neither projected nor geographic, so its pixel "
                "size in metres is unknown; reproject it (e.g. to UTM) and upload it again."
            )

    def metres(self, window: Window) -> tuple[float, float]:
        xres, yres = self.info.resolution
        if not self.geographic:
            return xres * self.metres_per_unit, yres * self.metres_per_unit
        t = self.info.transform
        lat = (t[5] + t[4] * (window.row_off + window.height / 2)) * self.radians_per_unit
        w = 1 - self.e2 * math.sin(lat) ** 2
        prime_vertical = self.a / math.sqrt(w)
        meridional = self.a * (1 - self.e2) / w**1.5
        return (
            xres * self.radians_per_unit * prime_vertical * math.cos(lat),
            yres * self.radians_per_unit * meridional,
        )
