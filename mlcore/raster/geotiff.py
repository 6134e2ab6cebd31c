"""Raster input and output by windows.

Only files opened through `open_geotiff` reach GDAL from user input: the GTiff
driver alone may open them, because GDAL would otherwise follow a VRT (or
another text format renamed .tif) to any file on the server. Loading this
module turns GDAL's network access off (see `mlcore.gdal_env`).
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetReader
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate, cog_validate

from mlcore.atomic import atomic_path
from mlcore.errors import MlcoreError
from mlcore.gdal_env import apply_network_policy, refused_path

apply_network_policy()

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class RasterError(MlcoreError):
    """A raster that cannot be used, with the reason."""


class NotAGeoTIFF(RasterError):
    pass


class MissingCRS(RasterError):
    pass


class RasterTooLarge(RasterError):
    pass


def open_geotiff(path: str | Path) -> DatasetReader:
    """Open a GeoTIFF for reading with the GTiff driver only, or raise NotAGeoTIFF.

    GDAL's warning about missing georeferencing is silenced: `inspect_geotiff`
    refuses such files with a message a user can act on.
    """
    refused = refused_path(path)
    if refused is not None:
        raise NotAGeoTIFF(f"{Path(path).name}: {refused}.")
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise NotAGeoTIFF(f"{path.name}: cannot be read ({exc.strerror}).") from None
    if head not in _TIFF_MAGIC:
        raise NotAGeoTIFF(
            f"{path.name} is not a GeoTIFF (it does not start with a TIFF header); "
            "export the image as GeoTIFF and upload it again."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path, driver="GTiff")
    except rasterio.errors.RasterioIOError as exc:
        raise NotAGeoTIFF(f"{path.name} is not a readable GeoTIFF: {exc}") from None


@dataclass(frozen=True)
class RasterInfo:
    width: int
    height: int
    count: int
    dtype: str
    crs_wkt: str
    epsg: int | None
    transform: tuple[float, ...]
    resolution: tuple[float, float]
    bounds: tuple[float, float, float, float]
    nodata: float | None
    band_descriptions: tuple[str | None, ...]

    @property
    def samples(self) -> int:
        return self.width * self.height * self.count


def _describe(ds: DatasetReader, name: str) -> RasterInfo:
    """Refuse what windowed reading cannot place on a map: no CRS, no grid, a rotated grid."""
    t = ds.transform
    if t == Affine.identity():
        if ds.gcps[0]:
            raise RasterError(
                f"{name} is georeferenced by ground control points, not by a grid; "
                "warp it to a north-up grid (e.g. with gdalwarp) and upload it again."
            )
        raise RasterError(
            f"{name} has no geotransform, so its pixels have no place on the map; "
            "export it with its georeferencing and upload it again."
        )
    if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
        raise RasterError(
            f"{name} has a rotated, skewed or flipped grid; warp it to a north-up grid "
            "(e.g. with gdalwarp) and upload it again."
        )
    if ds.crs is None:
        raise MissingCRS(
            f"{name} has no coordinate reference system; assign the right one "
            "(e.g. gdal_edit.py -a_srs EPSG:32647 file.tif) and upload it again."
        )
    return RasterInfo(
        width=ds.width,
        height=ds.height,
        count=ds.count,
        dtype=ds.dtypes[0],
        crs_wkt=ds.crs.to_wkt(),
        epsg=ds.crs.to_epsg(),
        transform=tuple(t)[:6],
        resolution=(abs(t.a), abs(t.e)),
        bounds=tuple(ds.bounds),
        nodata=ds.nodata,
        band_descriptions=tuple(ds.descriptions),
    )


def inspect_geotiff(path: str | Path, *, max_samples: int) -> RasterInfo:
    """Check a raster before it is stored; only the header is read, so this is cheap."""
    path = Path(path)
    with open_geotiff(path) as ds:
        info = _describe(ds, path.name)
    if info.samples > max_samples:
        raise RasterTooLarge(
            f"{path.name} has {info.samples:,} samples ({info.width} x {info.height} pixels, "
            f"{info.count} bands), more than the limit of {max_samples:,}; "
            "cut it into smaller scenes and upload them one by one."
        )
    return info


def pixels_to_map(geoms: np.ndarray, transform: Affine) -> np.ndarray:
    """Geometries in pixel (col, row) coordinates moved into the raster's CRS by its transform."""
    a, b, c, d, e, f = transform[:6]

    def apply(coords: np.ndarray) -> np.ndarray:
        col, row = coords[:, 0], coords[:, 1]
        return np.column_stack((a * col + b * row + c, d * col + e * row + f))

    return shapely.transform(geoms, apply)


# Below this many bytes rio-cogeo builds the intermediate file in memory; above
# it, on disk beside the destination, so a 10^10-pixel scene never sits in RAM.
_IN_MEMORY_BYTES = 256 * 2**20


def write_cog(
    src: Path,
    dst: Path,
    *,
    nodata: float | None = None,
    blocksize: int = 512,
    descriptions: Sequence[str] | None = None,
) -> None:
    """Store src as a COG at dst, all or nothing.

    DEFLATE with a predictor (horizontal differencing for integers, floating
    point for floats) keeps imagery small without loss. Overviews are
    averaged, which suits imagery and DEMs; class rasters get smeared
    overviews, which only matters for display. `nodata` declares a value of
    src as nodata when src does not say so itself.

    `descriptions` name the bands in the COG, so that any reader of the file
    (mlcore, QGIS) sees what the user called them. rio-cogeo copies the
    descriptions of its source, and a finished COG cannot be edited without
    breaking its layout, so the names go onto a virtual copy of src first.
    """
    src, dst = Path(src), Path(dst)
    with open_geotiff(src) as opened, _described(opened, descriptions) as ds:
        dtype = ds.dtypes[0]
        if nodata is not None and not rasterio.dtypes.in_dtype_range(nodata, dtype):
            raise RasterError(
                f"{src.name}: nodata {nodata} cannot occur in its {dtype} pixels; "
                "choose a nodata value inside the range of that type."
            )
        is_float = np.issubdtype(np.dtype(dtype), np.floating)
        profile = {
            "driver": "GTiff",
            "interleave": "pixel",
            "tiled": True,
            "blockxsize": blocksize,
            "blockysize": blocksize,
            "compress": "DEFLATE",
            "predictor": 3 if is_float else 2,
            "bigtiff": "IF_SAFER",
        }
        size = ds.width * ds.height * ds.count * np.dtype(dtype).itemsize
        in_memory = size <= _IN_MEMORY_BYTES
        with atomic_path(dst) as tmp, _refusing_unreadable(src):
            cog_translate(
                ds,
                tmp,
                profile,
                nodata=nodata,
                overview_resampling="average",
                in_memory=in_memory,
                allow_intermediate_compression=not in_memory,
                config={"GDAL_TIFF_OVR_BLOCKSIZE": str(blocksize), "GDAL_TIFF_INTERNAL_MASK": True},
                quiet=True,
            )
            if not is_valid_cog(tmp):
                raise RasterError(
                    f"{src.name} could not be converted to a valid Cloud-Optimised GeoTIFF; "
                    "check that it opens in QGIS and upload it again."
                )


@contextlib.contextmanager
def _described(ds: DatasetReader, descriptions: Sequence[str] | None) -> Iterator[DatasetReader]:
    """ds itself, or an in-memory VRT of it whose bands carry `descriptions`."""
    if descriptions is None:
        yield ds
        return
    if len(descriptions) != ds.count:
        raise RasterError(
            f"{len(descriptions)} band names were given for {Path(ds.name).name}, which has "
            f"{ds.count} bands; give one name per band."
        )
    vrt = f"/vsimem/{uuid.uuid4().hex}.vrt"
    try:
        rasterio.shutil.copy(ds, vrt, driver="VRT")
        with rasterio.open(vrt, "r+") as editable:
            editable.descriptions = tuple(descriptions)
        with rasterio.open(vrt) as described:
            yield described
    finally:
        with contextlib.suppress(rasterio.errors.RasterioIOError):
            rasterio.shutil.delete(vrt)


@contextlib.contextmanager
def _refusing_unreadable(src: Path) -> Iterator[None]:
    """Turn GDAL's failure half-way through a damaged file into a sentence for the user."""
    try:
        yield
    except rasterio.errors.RasterioError as exc:
        raise RasterError(
            f"{src.name} could not be converted to a Cloud-Optimised GeoTIFF ({exc}); "
            "if it is truncated or damaged, export it again and upload it."
        ) from exc


def is_valid_cog(path: str | Path) -> bool:
    """Whether GDAL can read path by tiles and overviews without scanning the file.

    The file goes through `open_geotiff` first, so GDAL never opens a VRT or
    other format that cog_validate would otherwise follow.
    """
    try:
        open_geotiff(path).close()
    except RasterError:
        return False
    valid, _errors, _warnings = cog_validate(path, quiet=True)
    return valid


@dataclass(frozen=True)
class BandStats:
    p2: float
    p98: float
    mean: float
    std: float
    min: float
    max: float
    valid_fraction: float


def band_statistics(path: str | Path, *, max_size: int = 1024) -> list[BandStats]:
    """Per-band statistics for display stretch and normalisation, from a decimated read.

    The read is at most max_size pixels on its longer side, so GDAL serves it
    from an overview when one exists; nearest-neighbour decimation keeps
    nodata from blending into real values. Nodata, masks, alpha and
    non-finite values are left out. A band with no valid pixel reports zeros
    and valid_fraction 0 rather than NaN, so the numbers always serialise.
    """
    with open_geotiff(path) as ds:
        scale = max(1.0, max(ds.width, ds.height) / max_size)
        shape = (max(1, round(ds.height / scale)), max(1, round(ds.width / scale)))
        result = []
        for band in ds.indexes:
            data = ds.read(band, out_shape=shape, masked=True)
            valid = ~np.ma.getmaskarray(data) & np.isfinite(data.data)
            values = data.data[valid].astype(np.float64)
            if values.size == 0:
                result.append(BandStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
                continue
            p2, p98 = np.percentile(values, [2, 98])
            result.append(
                BandStats(
                    p2=float(p2),
                    p98=float(p98),
                    mean=float(values.mean()),
                    std=float(values.std()),
                    min=float(values.min()),
                    max=float(values.max()),
                    valid_fraction=values.size / valid.size,
                )
            )
    return result


def footprint_wgs84(path: str | Path) -> shapely.Polygon:
    """The raster's bounds as a lon/lat polygon, for map display and spatial queries.

    Edges are densified before transforming because straight lines in a
    projected CRS are curves in lon/lat. A footprint across the antimeridian
    keeps a continuous ring with longitudes beyond 180 rather than wrapping.
    """
    path = Path(path)
    with open_geotiff(path) as ds:
        info = _describe(ds, path.name)
    left, bottom, right, top = info.bounds
    box = shapely.box(left, bottom, right, top)
    ring = np.asarray(shapely.segmentize(box, max(right - left, top - bottom) / 32).exterior.coords)
    to_lonlat = Transformer.from_crs(CRS.from_wkt(info.crs_wkt), 4326, always_xy=True)
    lon, lat = to_lonlat.transform(ring[:, 0], ring[:, 1])
    if np.ptp(lon) > 180:
        lon = np.where(lon < 0, lon + 360, lon)
    polygon = shapely.geometry.polygon.orient(shapely.Polygon(np.column_stack([lon, lat])))
    if not polygon.is_valid:
        raise RasterError(
            f"{path.name}: its outline cannot be drawn in longitude and latitude "
            "(it may cover a pole); reproject it to a local projected CRS and upload it again."
        )
    return polygon


class SceneReader:
    """Windowed access to one GeoTIFF, by pixel windows; never reads the whole raster.

    Windows with fractional offsets or sizes are rounded to whole pixels.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ds = open_geotiff(self.path)
        try:
            self.info = _describe(self._ds, self.path.name)
        except BaseException:
            self._ds.close()
            raise

    def __enter__(self) -> SceneReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._ds.close()

    def read(
        self,
        window: Window,
        *,
        bands: Sequence[int] | None = None,
        boundless: bool = True,
        fill: float = 0,
    ) -> np.ndarray:
        """Pixels as (bands, rows, cols); outside the raster they are `fill` when boundless.

        Boundless reads are done by hand (read the overlap, paste it into a
        filled array) because GDAL's boundless path goes through a warped VRT,
        which is slow and resamples.
        """
        bands = list(bands) if bands is not None else list(range(1, self.info.count + 1))
        if not bands or any(not 1 <= b <= self.info.count for b in bands):
            raise RasterError(
                f"{self.path.name} has bands 1 to {self.info.count}; bands {bands} were asked "
                "for. Check the band list of the model or the scene."
            )
        if not rasterio.dtypes.in_dtype_range(fill, self.info.dtype):
            raise ValueError(f"fill {fill} does not fit the raster's type {self.info.dtype}.")
        window, inner, (r0, c0) = self._clip(window, boundless)
        out = np.full((len(bands), window.height, window.width), fill, dtype=self.info.dtype)
        if inner is not None:
            out[:, r0 : r0 + inner.height, c0 : c0 + inner.width] = self._ds.read(
                bands, window=inner
            )
        return out

    def read_mask(self, window: Window, *, boundless: bool = True) -> np.ndarray:
        """True where a pixel holds data in any band (nodata, internal mask and alpha aware)."""
        window, inner, (r0, c0) = self._clip(window, boundless)
        out = np.zeros((window.height, window.width), dtype=bool)
        if inner is not None:
            mask = self._ds.dataset_mask(window=inner)
            out[r0 : r0 + inner.height, c0 : c0 + inner.width] = mask > 0
        return out

    def block_windows(self, block_size: int, overlap: int = 0) -> Iterator[Window]:
        """Windows of block_size pixels, neighbours sharing `overlap` pixels, row by row.

        With overlap 0 they tile the raster, each pixel in exactly one window;
        the last row and column are clipped at the raster's edge.
        """
        if block_size < 1 or not 0 <= overlap < block_size:
            raise ValueError(
                f"need block_size >= 1 and 0 <= overlap < block_size, "
                f"got {block_size} and {overlap}."
            )
        rows = _starts(self.info.height, block_size, overlap)
        cols = _starts(self.info.width, block_size, overlap)
        for row in rows:
            for col in cols:
                yield Window(
                    col,
                    row,
                    min(block_size, self.info.width - col),
                    min(block_size, self.info.height - row),
                )

    def _clip(
        self, window: Window, boundless: bool
    ) -> tuple[Window, Window | None, tuple[int, int]]:
        """The whole-pixel window, its part inside the raster, and where that part sits in it."""
        col, row = round(window.col_off), round(window.row_off)
        width, height = round(window.width), round(window.height)
        if width < 1 or height < 1:
            raise ValueError(f"window {window} is empty.")
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + width, self.info.width), min(row + height, self.info.height)
        whole = (c0, r0, c1, r1) == (col, row, col + width, row + height)
        if not boundless and not whole:
            raise ValueError(
                f"window {window} reaches outside {self.path.name} "
                f"({self.info.width} x {self.info.height}); read it with boundless=True."
            )
        inner = Window(c0, r0, c1 - c0, r1 - r0) if c1 > c0 and r1 > r0 else None
        return Window(col, row, width, height), inner, (r0 - row, c0 - col)


def _starts(length: int, block_size: int, overlap: int) -> list[int]:
    starts = [0]
    while starts[-1] + block_size < length:
        starts.append(starts[-1] + block_size - overlap)
    return starts
