"""Files an attacker might upload to make GDAL reach out: each names a URL to fetch."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

SQUARE = [[[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.141], [98.68, 31.14]]]


def geojson_with_crs(path: Path, crs: dict) -> Path:
    """One good polygon in a FeatureCollection whose top-level `crs` member is `crs`."""
    feature = {
        "type": "Feature",
        "properties": {"name": "one"},
        "geometry": {"type": "Polygon", "coordinates": SQUARE},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": [feature]}))
    return path


def link_crs(url: str) -> dict:
    """A GeoJSON 2008 "linked CRS": GDAL downloads `href` to learn the CRS."""
    return {"type": "link", "properties": {"href": url, "type": "ogcwkt"}}


def vector_vrt(url: str) -> str:
    """OGR VRT XML whose one layer GDAL would fetch from `url` through /vsicurl/."""
    return (
        '<OGRVRTDataSource><OGRVRTLayer name="layer">'
        f"<SrcDataSource>/vsicurl/{url}</SrcDataSource>"
        "</OGRVRTLayer></OGRVRTDataSource>"
    )


def raster_vrt(url: str) -> str:
    """GDAL raster VRT XML whose one band GDAL would read from `url` through /vsicurl/."""
    return (
        '<VRTDataset rasterXSize="10" rasterYSize="10"><VRTRasterBand dataType="Byte" band="1">'
        f'<SimpleSource><SourceFilename relativeToVRT="0">/vsicurl/{url}</SourceFilename>'
        "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    )


def zipped_shapefile_of_vrt(path: Path, url: str) -> Path:
    """A zip with slides.shp/.shx/.dbf/.prj whose .shp is really OGR VRT XML."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("slides.shp", vector_vrt(url))
        archive.writestr("slides.shx", vector_vrt(url))
        archive.writestr("slides.dbf", vector_vrt(url))
        archive.writestr("slides.prj", 'GEOGCS["WGS 84",DATUM["WGS_1984"]]')
    return path
