"""Vector inventories: reading each format safely, checking, repairing, writing, areas.

`polygons` is the entry (`read_polygons`, `write_polygons`); `formats`,
`shapefile_zip` and `kml` each read one kind of file into a `RawLayer`;
`export` writes the formats Scarp exports; `areas` measures on the ellipsoid.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    polygons=(
        "GeometryRefused PolygonFile SUPPORTED_SUFFIXES read_polygons repair_polygon write_polygons"
    ),
    formats="FeatureProblem RawLayer SHAPEFILE_PARTS VectorFileError detect_format",
    areas="areas_m2 geodesic_area_m2 outline_area",
    export="WRITABLE_SUFFIXES write_layer",
    shapefile_zip="read_zipped_shapefile",
    kml="read_kml",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
