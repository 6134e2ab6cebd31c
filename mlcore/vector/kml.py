"""KML placemarks as a `RawLayer`, parsed by us rather than by GDAL.

We parse KML with defusedxml so that a DOCTYPE, an entity or an external
reference is refused before it is expanded (the "billion laughs" and local
file inclusion attacks), and so that a NetworkLink is never followed. KML
coordinates are always WGS84 longitude, latitude[, altitude].
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml
import defusedxml.ElementTree
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mlcore.vector.formats import (
    RawLayer,
    VectorFileError,
    check_feature_count,
    check_size,
    object_array,
)

_GEOMETRY_TAGS = {"Polygon", "MultiGeometry", "Point", "LineString", "LinearRing", "Model"}
_TRACK_TAGS = {"Track", "MultiTrack"}
_RESERVED = ("name", "description")


class _GeometryProblem(Exception):
    """Why one placemark's geometry cannot be read; becomes a FeatureProblem."""


def read_kml(path: Path, *, max_bytes: int, max_features: int) -> RawLayer:
    """Read every Placemark in `path`: its geometry, name, description and ExtendedData."""
    check_size(path, max_bytes)
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, str] = {}
    rows: list[dict[str, str | None]] = []
    ids: list[str | None] = []
    try:
        with path.open("rb") as source:
            events = defusedxml.ElementTree.iterparse(
                source, events=("end",), forbid_dtd=True, forbid_entities=True
            )
            for _, element in events:
                if _local(element.tag) != "Placemark":
                    continue
                check_feature_count(path, len(rows) + 1, max_features)
                rows.append(_attributes(element))
                ids.append(element.get("id") or rows[-1].get("name"))
                try:
                    geometries.append(_placemark_geometry(element))
                except _GeometryProblem as exc:
                    geometries.append(None)
                    errors[len(rows) - 1] = str(exc)
                element.clear()  # keep memory flat on large files
    except defusedxml.DefusedXmlException:
        raise VectorFileError(
            f"{path.name} declares a DOCTYPE, entities or external references, which Scarp "
            "refuses for safety; export the KML again without them (Google Earth and QGIS "
            "never write them)."
        ) from None
    except ET.ParseError as exc:
        raise VectorFileError(
            f"{path.name} is not well-formed XML ({exc}); export it again."
        ) from None
    names = list(dict.fromkeys(key for row in rows for key in row))
    columns = {name: object_array([row.get(name) for row in rows]) for name in names}
    return RawLayer(
        geometries=object_array(geometries),
        columns=columns,
        feature_ids=ids,
        crs="EPSG:4326",
        driver="KML",
        layer=None,
        geometry_errors=errors,
    )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element, name: str) -> str | None:
    found = _children(element, name)
    if not found or found[0].text is None:
        return None
    return found[0].text.strip()


def _attributes(placemark: ET.Element) -> dict[str, str | None]:
    """name, description and ExtendedData values; a Data key clashing with those gets "data_"."""
    row: dict[str, str | None] = {}
    for key in _RESERVED:
        if _children(placemark, key):
            row[key] = _text(placemark, key)
    for extended in _children(placemark, "ExtendedData"):
        pairs = [(d.get("name"), _text(d, "value")) for d in _children(extended, "Data")]
        for schema in _children(extended, "SchemaData"):
            pairs += [
                (s.get("name"), (s.text or "").strip()) for s in _children(schema, "SimpleData")
            ]
        for key, value in pairs:
            if key:
                row["data_" + key if key in _RESERVED else key] = value
    return row


def _placemark_geometry(placemark: ET.Element) -> BaseGeometry | None:
    for child in placemark:
        tag = _local(child.tag)
        if tag in _GEOMETRY_TAGS:
            return _geometry(child)
        if tag in _TRACK_TAGS:
            raise _GeometryProblem(f"not a polygon (gx:{tag})")
    return None


def _geometry(element: ET.Element) -> BaseGeometry:
    tag = _local(element.tag)
    if tag == "Polygon":
        outer = [r for b in _children(element, "outerBoundaryIs") for r in _rings(b)]
        inner = [r for b in _children(element, "innerBoundaryIs") for r in _rings(b)]
        if len(outer) != 1:
            raise _GeometryProblem(f"a Polygon with {len(outer)} outer boundaries instead of one")
        return _build(shapely.Polygon, outer[0], inner)
    if tag == "MultiGeometry":
        parts = [_geometry(c) for c in element if _local(c.tag) in _GEOMETRY_TAGS]
        return shapely.GeometryCollection(parts)
    if tag == "Point":
        return _build(shapely.Point, _coordinates(element)[0])
    if tag in ("LineString", "LinearRing"):
        return _build(shapely.LineString, _coordinates(element))
    raise _GeometryProblem(f"not a polygon ({tag})")


def _rings(boundary: ET.Element) -> list[np.ndarray]:
    return [_coordinates(ring) for ring in _children(boundary, "LinearRing")]


def _build(constructor, *args) -> BaseGeometry:
    try:
        return constructor(*args)
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise _GeometryProblem(f"unreadable geometry ({exc})") from None


def _coordinates(element: ET.Element) -> np.ndarray:
    """lon,lat[,alt] tuples separated by white space; the altitude is dropped."""
    text = _text(element, "coordinates") or ""
    tuples = re.sub(r"\s*,\s*", ",", text).split()
    try:
        points = [[float(v) for v in item.split(",")[:2]] for item in tuples]
    except ValueError:
        raise _GeometryProblem(f"coordinates cannot be read: {text[:60]!r}") from None
    if not points or any(len(p) != 2 for p in points):
        raise _GeometryProblem("coordinates missing or without latitude")
    return np.array(points, dtype=float)
