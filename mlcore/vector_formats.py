"""The vector file formats Scarp reads and writes, below the geometry rules.

Each reader turns one file into a `RawLayer`: geometries as the file holds
them, JSON-friendly attribute columns and the declared CRS; `mlcore.vectors`
then applies the geometry and CRS rules to every format alike.

GDAL only ever opens a plain local file through a driver we name: GeoJSON and
GeoPackage by their connection prefix (after checking the file's first bytes),
a Shapefile only after we copied its parts out of the zip under names we chose.
GDAL never sees an uploaded zip (no /vsizip/), because a zip's member names and
sizes are the uploader's to choose.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely

from mlcore.errors import MlcoreError

SUPPORTED_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip", ".kml")
WRITABLE_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip")
FORMAT_BY_SUFFIX = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".zip": "ESRI Shapefile",
    ".kml": "KML",
}
MAX_ZIP_MEMBERS = 1000
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_REQUIRED_PARTS = (".shp", ".shx", ".dbf")
_LISTED_PROBLEMS = 20
_GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


@dataclass(frozen=True)
class FeatureProblem:
    """Why one feature was refused or repaired, in words a mapper can act on."""

    number: int
    feature_id: str | None
    reason: str
    location: tuple[float, float] | None = None

    def __str__(self) -> str:
        text = f"feature {self.number}"
        if self.feature_id is not None:
            text += f" (id {self.feature_id!r})"
        text += f": {self.reason}"
        if self.location is not None:
            text += " at " + ", ".join(_short_float(v) for v in self.location)
        return text


class VectorFileError(MlcoreError):
    """A vector file that cannot be imported; `problems` lists every bad feature.

    The message names the file and, one per line, the first problems, so that
    a user can fix them all in one pass rather than one per upload.
    """

    def __init__(self, message: str, problems: Sequence[FeatureProblem] = ()) -> None:
        self.problems = list(problems)
        lines = [message]
        lines += [f"- {problem}" for problem in self.problems[:_LISTED_PROBLEMS]]
        if len(self.problems) > _LISTED_PROBLEMS:
            lines.append(f"- and {len(self.problems) - _LISTED_PROBLEMS} more")
        super().__init__("\n".join(lines))


@dataclass
class RawLayer:
    """One layer as read from a file, before any geometry or CRS rule.

    `geometries` holds shapely objects or None; `geometry_errors` maps a
    0-based position to why its geometry could not even be read.
    """

    geometries: np.ndarray
    columns: dict[str, np.ndarray]
    feature_ids: list[str | None]
    crs: str | None
    driver: str
    layer: str | None
    geometry_errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.geometries)


def detect_format(path: Path) -> str:
    """The GDAL driver name for `path`, from its suffix, confirmed by its first bytes."""
    suffix = path.suffix.lower()
    driver = FORMAT_BY_SUFFIX.get(suffix)
    if driver is None:
        raise VectorFileError(
            f"{path.name}: Scarp cannot read {suffix or 'files without a suffix'!s} files; "
            f"upload one of {', '.join(SUPPORTED_SUFFIXES)} "
            "(a Shapefile goes zipped: its .shp, .shx, .dbf and .prj in one .zip)."
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise VectorFileError(f"{path.name} cannot be read ({exc.strerror}).") from None
    text_head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    expected = {
        "GeoJSON": (text_head.startswith(b"{"), "it does not start with '{'"),
        "GPKG": (head.startswith(b"SQLite format 3\x00"), "it is not an SQLite database"),
        "ESRI Shapefile": (head[:4] in (b"PK\x03\x04", b"PK\x05\x06"), "it is not a zip file"),
        "KML": (text_head.startswith(b"<"), "it is not XML"),
    }
    looks_right, why_not = expected[driver]
    if not looks_right:
        raise VectorFileError(
            f"{path.name} is named {suffix} but is not a {driver} file ({why_not}); "
            f"export it again as {driver}."
        )
    return driver


def check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise VectorFileError(
            f"{path.name} is {size:,} bytes, more than the {max_bytes:,} allowed; "
            "split the inventory into smaller files."
        )


def read_ogr(
    path: Path, driver: str, *, layer: str | None, max_bytes: int, max_features: int
) -> RawLayer:
    """Read a GeoJSON, GeoPackage or zipped Shapefile layer through GDAL."""
    check_size(path, max_bytes)
    if driver == "ESRI Shapefile":
        with extracted_shapefile(path, max_bytes) as (shp, stem):
            if layer not in (None, stem):
                raise VectorFileError(
                    f"{path.name} holds one Shapefile layer, {stem!r}, not {layer!r}."
                )
            return _read_gdal(path, str(shp), driver, None, stem, max_features)
    if ":" in str(path.resolve()):
        raise VectorFileError(f"{path.name}: its path contains ':'; store it under another name.")
    gdal_path = f"{driver}:{path.resolve()}"
    chosen = _choose_layer(path, gdal_path, layer)
    return _read_gdal(path, gdal_path, driver, chosen, chosen, max_features)


def _choose_layer(path: Path, gdal_path: str, wanted: str | None) -> str:
    try:
        layers = [(str(name), kind) for name, kind in pyogrio.list_layers(gdal_path)]
    except _GDAL_ERRORS as exc:
        raise VectorFileError(f"{path.name} cannot be read: {exc}") from None
    names = [name for name, _ in layers]
    if wanted is not None:
        if wanted not in names:
            raise VectorFileError(
                f"{path.name} has no layer {wanted!r}; its layers are {_quoted(names)}."
            )
        return wanted
    polygonal = [name for name, kind in layers if _is_polygonal(kind)]
    generic = [
        name for name, kind in layers if kind in ("Unknown", "Geometry", "GeometryCollection")
    ]
    candidates = polygonal or generic
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise VectorFileError(
            f"{path.name} has no polygon layer (its layers: {_quoted(names) or 'none'}); "
            "export the landslide polygons to it."
        )
    raise VectorFileError(
        f"{path.name} has several polygon layers ({_quoted(candidates)}); choose the one "
        "that holds the landslides."
    )


def _is_polygonal(kind: str | None) -> bool:
    return kind is not None and ("Polygon" in kind or "Surface" in kind)


def _read_gdal(
    path: Path,
    gdal_path: str,
    driver: str,
    layer: str | None,
    label: str | None,
    max_features: int,
) -> RawLayer:
    try:
        info = pyogrio.read_info(gdal_path, layer=layer)
        if info["driver"] != driver:
            raise VectorFileError(f"{path.name} is not a {driver} file; export it again.")
        check_feature_count(path, info["features"], max_features)
        meta, fids, wkb, field_data = pyogrio.raw.read(
            gdal_path,
            layer=layer,
            force_2d=True,
            return_fids=True,
            datetime_as_string=True,
            max_features=max_features + 1,
        )
    except _GDAL_ERRORS as exc:
        raise VectorFileError(f"{path.name} cannot be read as {driver}: {exc}") from None
    check_feature_count(path, len(wkb), max_features)
    geometries, errors = _geometries_from_wkb(wkb)
    columns = {
        str(name): json_friendly(values, ogr_type, subtype)
        for name, values, ogr_type, subtype in zip(
            meta["fields"], field_data, meta["ogr_types"], meta["ogr_subtypes"], strict=True
        )
    }
    return RawLayer(
        geometries=geometries,
        columns=columns,
        feature_ids=_feature_ids(columns, fids, driver),
        crs=meta["crs"],
        driver=driver,
        layer=label,
        geometry_errors=errors,
    )


def check_feature_count(path: Path, count: int, max_features: int) -> None:
    if count > max_features:
        raise VectorFileError(
            f"{path.name} has {count:,} features, more than the {max_features:,} allowed; "
            "split it into smaller files."
        )


def _geometries_from_wkb(wkb: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    try:
        geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    except NotImplementedError:  # a curved geometry somewhere: find which, one by one
        geometries = np.empty(len(wkb), dtype=object)
        for i, item in enumerate(wkb):
            try:
                geometries[i] = shapely.from_wkb(item, on_invalid="ignore")
            except NotImplementedError:
                geometries[i] = None
    unreadable = np.flatnonzero(pd.isna(geometries) & ~pd.isna(wkb))
    why = "unreadable geometry (a curved geometry, or a ring with fewer than 4 points)"
    return geometries, {int(i): why for i in unreadable}


def json_friendly(values: np.ndarray, ogr_type: str, subtype: str) -> np.ndarray:
    """Values a JSON encoder takes: numbers stay numeric arrays unless some are missing.

    GDAL gives integer and boolean columns with nulls as floats with NaN;
    those become object arrays of int (or bool) and None, as NaN is not JSON.
    Dates arrive as ISO strings already, binary values become hex strings and
    lists become Python lists.
    """
    cast = bool if subtype == "OFSTBoolean" else None
    cast = cast or (int if ogr_type.startswith("OFTInteger") else float)
    if values.dtype.kind in "iub":
        return values.astype(bool if cast is bool else np.int64)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if not missing.any() and cast is not float:
            return values.astype(bool if cast is bool else np.int64)
        if not missing.any():
            return values
        return object_array([None if m else cast(v) for v, m in zip(values, missing, strict=True)])
    return object_array([_plain(v) for v in values])


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def object_array(items: list) -> np.ndarray:
    """A 1-D object array that keeps None as None (and lists as single items)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _feature_ids(columns: dict[str, np.ndarray], fids: np.ndarray, driver: str) -> list[str | None]:
    """Ids for messages: an id/fid/name column, else a GeoPackage's own fid."""
    by_lower = {name.lower(): name for name in columns}
    for candidate in ("id", "fid", "name"):
        if candidate in by_lower:
            return [None if v is None else str(v) for v in columns[by_lower[candidate]].tolist()]
    explicit = driver == "GPKG" or (
        driver == "GeoJSON" and not np.array_equal(fids, np.arange(len(fids)))
    )
    if explicit:
        return [str(v) for v in fids.tolist()]
    return [None] * len(fids)


@contextmanager
def extracted_shapefile(path: Path, max_bytes: int) -> Iterator[tuple[Path, str]]:
    """Copy the one Shapefile out of a zip into a fresh folder; yield its .shp and stem.

    Every member is checked before anything is written, and the copy stops at
    the sizes the zip declared, so a zip bomb or a hostile name never reaches
    the disk. The folder is removed however the caller leaves.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VectorFileError(f"{path.name} is not a readable zip file ({exc}).") from None
    with archive, tempfile.TemporaryDirectory(prefix="scarp-shp-") as folder:
        members = _checked_members(archive, path.name, max_bytes)
        shp = _the_one_shapefile(members, path.name)
        parts = _shapefile_parts(members, shp, path.name)
        for suffix, info in parts.items():
            _copy_bounded(archive, info, Path(folder) / f"layer{suffix}", path.name)
        yield Path(folder) / "layer.shp", PurePosixPath(shp.filename).stem


def _checked_members(archive: zipfile.ZipFile, name: str, max_bytes: int) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise VectorFileError(
            f"{name} holds {len(infos):,} files, more than {MAX_ZIP_MEMBERS}; "
            "zip only the Shapefile's .shp, .shx, .dbf, .prj and .cpg."
        )
    for info in infos:
        parts = re.split(r"[\\/]", info.filename)
        if info.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", info.filename):
            raise VectorFileError(f"{name} holds {info.filename!r}, an absolute path; refused.")
        if ".." in parts:
            raise VectorFileError(f"{name} holds {info.filename!r}, which points outside; refused.")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise VectorFileError(f"{name} holds {info.filename!r}, a symbolic link; refused.")
        if info.flag_bits & 0x1:
            raise VectorFileError(f"{name} is password-protected; zip it again without one.")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise VectorFileError(
            f"{name} would unpack to {total:,} bytes, more than the {max_bytes:,} allowed; "
            "split the inventory into smaller files."
        )
    return [i for i in infos if not i.is_dir() and not i.filename.startswith("__MACOSX/")]


def _the_one_shapefile(members: list[zipfile.ZipInfo], name: str) -> zipfile.ZipInfo:
    shps = [info for info in members if info.filename.lower().endswith(".shp")]
    if len(shps) == 1:
        return shps[0]
    if not shps:
        found = _quoted([info.filename for info in members][:10]) or "nothing"
        raise VectorFileError(
            f"{name} holds no .shp file (found {found}); zip a Shapefile's .shp, .shx, .dbf "
            "and .prj together."
        )
    raise VectorFileError(
        f"{name} holds {len(shps)} Shapefiles ({_quoted([i.filename for i in shps])}); "
        "upload one Shapefile per zip."
    )


def _shapefile_parts(
    members: list[zipfile.ZipInfo], shp: zipfile.ZipInfo, name: str
) -> dict[str, zipfile.ZipInfo]:
    stem = shp.filename[:-4]
    parts: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        head, suffix = info.filename[:-4], info.filename[-4:].lower()
        if head == stem and suffix in SHAPEFILE_PARTS:
            parts[suffix] = info
    missing = [suffix for suffix in _REQUIRED_PARTS if suffix not in parts]
    if missing:
        raise VectorFileError(
            f"{name}: the Shapefile {shp.filename!r} has no {' or '.join(missing)} beside it; "
            "zip all of its files together."
        )
    return parts


def _copy_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    written = 0
    try:
        with archive.open(info) as source, target.open("xb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > info.file_size:
                    raise VectorFileError(
                        f"{name}: {info.filename!r} unpacks to more than the size it declares; "
                        "refused as a possible zip bomb."
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise VectorFileError(f"{name}: {info.filename!r} is damaged ({exc}).") from None


def write_layer(frame: geopandas.GeoDataFrame, path: Path, driver: str) -> None:
    """Write `frame` as one layer at `path`, whole or not at all.

    The file is built in a temporary folder beside `path` and moved over it
    with os.replace, so a reader never sees half a file.
    """
    frame = _writable_columns(frame, shapefile=driver == "ESRI Shapefile")
    folder = Path(tempfile.mkdtemp(prefix=".scarp-write-", dir=path.parent))
    try:
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "landslides"
        if driver == "ESRI Shapefile":
            pyogrio.write_dataframe(frame, folder / f"{stem}.shp", encoding="UTF-8")
            built = folder / "out.zip"
            with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as archive:
                for suffix in SHAPEFILE_PARTS:
                    part = folder / f"{stem}{suffix}"
                    if part.exists():
                        archive.write(part, arcname=part.name)
        else:
            built = folder / f"{stem}{path.suffix.lower()}"
            options = {"RFC7946": "YES", "COORDINATE_PRECISION": 15} if driver == "GeoJSON" else {}
            pyogrio.write_dataframe(
                frame, built, driver=driver, layer=stem, layer_options=options or None
            )
        os.replace(built, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _writable_columns(frame: geopandas.GeoDataFrame, *, shapefile: bool) -> geopandas.GeoDataFrame:
    """Give object columns a type GDAL keeps, and Shapefile names their 10-byte form."""
    frame = frame.copy()
    for name in frame.columns:
        if name != frame.geometry.name and frame[name].dtype == object:
            frame[name] = _typed(frame[name])
    if shapefile:
        renamed = {name: _dbf_name(name) for name in frame.columns if name != frame.geometry.name}
        seen: dict[str, str] = {}
        for name, short in renamed.items():
            if short.lower() in seen:
                raise VectorFileError(
                    f"Columns {seen[short.lower()]!r} and {name!r} would both be named {short!r} "
                    "in a Shapefile (names are cut to 10 bytes); rename one, or export as "
                    "GeoPackage."
                )
            seen[short.lower()] = name
        frame = frame.rename(columns=renamed)
    return frame


def _dbf_name(name: str) -> str:
    encoded = name.encode("utf-8")[:10]
    return encoded.decode("utf-8", errors="ignore")


def _typed(column: pd.Series) -> pd.Series:
    present = column.dropna()
    kinds = {type(v) for v in present}
    if kinds <= {bool, np.bool_}:
        return column.astype("boolean")
    if kinds <= {int, np.int64}:
        return column.astype("Int64")
    if kinds <= {int, float, np.int64, np.float64}:
        return column.astype("Float64")
    if kinds <= {str}:
        return column
    return column.map(
        lambda v: None if v is None else v if isinstance(v, str) else json.dumps(v, default=str)
    )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _short_float(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")
