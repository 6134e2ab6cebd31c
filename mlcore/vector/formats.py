"""Reading GeoJSON and GeoPackage layers, and what every vector reader shares.

Each reader (this one, `mlcore.vector.shapefile_zip`, `mlcore.vector.kml`) turns one file
into a `RawLayer`: geometries as the file holds them, JSON-friendly attribute
columns and the declared CRS; `mlcore.vector.polygons` then applies the geometry and
CRS rules to every format alike. Writing is in `mlcore.vector.export`.

GDAL only ever opens a plain local file through a driver we name: GeoJSON and
GeoPackage by their connection prefix (after checking the file's first bytes),
a Shapefile only after we copied its parts out of the zip under names we chose.
GDAL never sees an uploaded zip (no /vsizip/), because a zip's member names and
sizes are the uploader's to choose. A GeoJSON `crs` member that is a link is
refused before GDAL reads the file, because GDAL would download it. Loading
this module turns GDAL's network access off (see `mlcore.gdal_env`).
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely

from mlcore.errors import MlcoreError
from mlcore.gdal_env import apply_network_policy, refused_path

apply_network_policy()

SUPPORTED_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip", ".kml")
FORMAT_NAMES = {
    "GeoJSON": "GeoJSON",
    "GPKG": "GeoPackage",
    "ESRI Shapefile": "zipped Shapefile",
    "KML": "KML",
}
FORMAT_BY_SUFFIX = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".zip": "ESRI Shapefile",
    ".kml": "KML",
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
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

    @property
    def detail(self) -> str:
        """The reason and, where known, the place: "Self-intersection at 98.69, 31.14"."""
        if self.location is None:
            return self.reason
        return f"{self.reason} at " + ", ".join(_short_float(v) for v in self.location)

    def __str__(self) -> str:
        named = f" (id {self.feature_id!r})" if self.feature_id is not None else ""
        return f"feature {self.number}{named}: {self.detail}"


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
    refused = refused_path(path)
    if refused is not None:
        raise VectorFileError(f"{Path(path).name}: {refused}.")
    path = Path(path)
    suffix = path.suffix.lower()
    driver = FORMAT_BY_SUFFIX.get(suffix)
    if driver is None:
        what = f"{suffix} files" if suffix else "files without a suffix"
        raise VectorFileError(
            f"{path.name}: Scarp cannot read {what}; "
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
        name = FORMAT_NAMES[driver]
        raise VectorFileError(
            f"{path.name} is named {suffix} but is not a {name} ({why_not}); "
            f"export it again as {name}."
        )
    if driver == "GeoJSON":
        check_geojson_crs(path)
    return driver


# A JSON key equal to "crs" in any case, letters possibly written as \u escapes,
# as GDAL compares member names (case-insensitively, after unescaping).
_CRS_KEY = re.compile(rb'"(?:c|\\u00[46]3)(?:r|\\u00[57]2)(?:s|\\u00[57]3)"\s*:\s*', re.IGNORECASE)
_CRS_OBJECT_BYTES = 64 * 1024
_NAMED_CRS_TYPES = {"name": "name", "epsg": "code", "ogc": "urn"}
_LOCAL_CRS_URIS = re.compile(r"^(https?://)?(www\.)?opengis\.net/def/crs/", re.IGNORECASE)


def check_geojson_crs(path: Path) -> None:
    """Refuse a GeoJSON any of whose `crs` members GDAL would fetch or open.

    The old (2008) GeoJSON let a CRS be a link or URL; GDAL downloads it. Only
    a CRS given by name ("EPSG:32647", "urn:ogc:def:crs:EPSG::32647") passes.
    The file is scanned as bytes through a memory map, so its size does not
    matter; each `crs` object found is decoded alone.
    """
    if path.stat().st_size == 0:
        return
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for match in _CRS_KEY.finditer(data):
            window = data[match.end() : match.end() + _CRS_OBJECT_BYTES]
            why = _crs_refusal(window.decode("utf-8", errors="replace"))
            if why is not None:
                raise VectorFileError(
                    f'{path.name}: its "crs" member {why}. Scarp never follows links in '
                    "uploaded files; export the file again as GeoJSON in lon/lat (RFC 7946) "
                    'or with the CRS given by name, e.g. "EPSG:32647".'
                )


def _crs_refusal(text: str) -> str | None:
    """Why the `crs` value at the start of `text` is refused, or None when it is a name."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return "cannot be read as a JSON object (or is longer than 64 KiB)"
    if value is None:
        return None
    if not isinstance(value, dict):
        return "is not a CRS object"
    kind = str(value.get("type", "")).lower()
    properties = value.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    if kind not in _NAMED_CRS_TYPES:
        target = properties.get("href") or properties.get("url") or ""
        shown = f" to {str(target)[:200]!r}" if target else ""
        return f"is a link{shown} (type {value.get('type')!r}), not a CRS name"
    name = properties.get(_NAMED_CRS_TYPES[kind])
    if isinstance(name, int) and kind == "epsg":
        return None
    if not isinstance(name, str):
        return f"of type {value.get('type')!r} has no {_NAMED_CRS_TYPES[kind]!r}"
    looks_like_link = "://" in name or name.lstrip().lower().startswith(("/", "\\", "file:"))
    if looks_like_link and not _LOCAL_CRS_URIS.match(name.strip()):
        return f"names a link or file ({name[:200]!r}), not a CRS"
    return None


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
    """Read a GeoJSON or GeoPackage layer through GDAL, forcing the driver by prefix."""
    check_size(path, max_bytes)
    if ":" in str(path.resolve()):
        raise VectorFileError(f"{path.name}: its path contains ':'; store it under another name.")
    gdal_path = f"{driver}:{path.resolve()}"
    chosen = _choose_layer(path, gdal_path, layer)
    return read_gdal(path, gdal_path, driver, chosen, chosen, max_features)


def _choose_layer(path: Path, gdal_path: str, wanted: str | None) -> str:
    """The layer asked for, the only spatial layer, or the only polygon layer."""
    try:
        layers = [(str(name), kind) for name, kind in pyogrio.list_layers(gdal_path)]
    except _GDAL_ERRORS as exc:
        raise VectorFileError(f"{path.name} cannot be read: {exc}") from None
    names = [name for name, _ in layers]
    if wanted is not None:
        if wanted not in names:
            raise VectorFileError(
                f"{path.name} has no layer {wanted!r}; its layers are {quoted(names)}."
            )
        return wanted
    spatial = [name for name, kind in layers if kind is not None]
    polygonal = [name for name, kind in layers if _is_polygonal(kind)]
    generic = [name for name, kind in layers if kind in ("Unknown", "Geometry")]
    candidates = spatial if len(spatial) == 1 else polygonal or generic
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise VectorFileError(
            f"{path.name} has no polygon layer (its layers: {quoted(names) or 'none'}); "
            "export the landslide polygons to it."
        )
    raise VectorFileError(
        f"{path.name} has several polygon layers ({quoted(candidates)}); choose the one "
        "that holds the landslides."
    )


def _is_polygonal(kind: str | None) -> bool:
    return kind is not None and ("Polygon" in kind or "Surface" in kind)


def read_gdal(
    path: Path,
    gdal_path: str,
    driver: str,
    layer: str | None,
    label: str | None,
    max_features: int,
) -> RawLayer:
    """Read `layer` of `gdal_path`; `path` and `label` are what messages and results show."""
    try:
        info = pyogrio.read_info(gdal_path, layer=layer)
        if info["driver"] != driver:
            name = FORMAT_NAMES[driver]
            raise VectorFileError(f"{path.name} is not a {name}; export it again as {name}.")
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
        name = FORMAT_NAMES[driver]
        raise VectorFileError(f"{path.name} cannot be read as {name}: {exc}") from None
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


def quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _short_float(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")
