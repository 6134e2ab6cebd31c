"""Writing a layer in the formats Scarp exports: GeoJSON, GeoPackage, zipped Shapefile.

Object columns (what an import produces where values are missing, or what a
caller builds from JSON) are given a type GDAL keeps, so an int stays an int
after a round trip instead of turning into text.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyogrio

from mlcore.atomic import atomic_path
from mlcore.vector.formats import SHAPEFILE_PARTS, VectorFileError

WRITABLE_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip")


def write_layer(frame: geopandas.GeoDataFrame, path: Path, driver: str) -> None:
    """Write `frame` as one layer at `path`, whole or not at all.

    The file (and a Shapefile's parts) is built in `mlcore.atomic`'s private
    folder beside `path` and moved over it, so a reader never sees half a file.
    """
    frame = _writable_columns(frame, shapefile=driver == "ESRI Shapefile")
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "landslides"
    with atomic_path(path) as built:
        folder = built.parent
        if driver == "ESRI Shapefile":
            pyogrio.write_dataframe(frame, folder / f"{stem}.shp", driver=driver, encoding="UTF-8")
            with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as archive:
                for suffix in SHAPEFILE_PARTS:
                    part = folder / f"{stem}{suffix}"
                    if part.exists():
                        archive.write(part, arcname=part.name)
        else:
            options = _layer_options(frame, driver)
            pyogrio.write_dataframe(
                frame, built, driver=driver, layer=stem, layer_options=options or None
            )


def _layer_options(frame: geopandas.GeoDataFrame, driver: str) -> dict[str, str]:
    if driver == "GeoJSON":  # RFC 7946 rounds to 7 decimals unless told otherwise
        return {"RFC7946": "YES", "COORDINATE_PRECISION": "15"}
    if any(str(name).lower() == "fid" for name in frame.columns):
        return {"FID": "scarp_fid"}  # else GDAL takes a "fid" column as the primary key
    return {}


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
    """The narrowest nullable type that holds every value; JSON text for anything else."""
    present = column.dropna().tolist()
    if not present or all(isinstance(v, str) for v in present):
        return column
    if all(isinstance(v, bool | np.bool_) for v in present):
        return column.astype("boolean")
    numbers = [v for v in present if isinstance(v, int | float | np.number)]
    if len(numbers) == len(present) and not any(isinstance(v, bool) for v in present):
        integral = all(isinstance(v, int | np.integer) for v in present)
        return column.astype("Int64" if integral else "Float64")
    return column.map(
        lambda v: None if v is None else v if isinstance(v, str) else json.dumps(v, default=str)
    )
