"""GDAL as a GIS client of the live test server, with the token in a header.

Scarp turns GDAL's network access off in its own processes (mlcore.gdal_env
points GDAL_HTTP_PROXY at a dead port). A test that plays QGIS or ogr2ogr
against our own server lifts that for one client call only, and sends the
API token the way a user would: GDAL_HTTP_HEADERS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyogrio
import rasterio


def client_options(token: str | None) -> dict[str, str]:
    options = {
        # The empty proxy overrides the environment's dead one for libcurl.
        "GDAL_HTTP_PROXY": "",
        "GDAL_HTTPS_PROXY": "",
        "GDAL_HTTP_MAX_RETRY": "0",
        # No cached answers between a member's and an outsider's call.
        "GDAL_HTTP_USE_CACHE": "NO",
    }
    if token:
        options["GDAL_HTTP_HEADERS"] = f"Authorization: Token {token}"
    return options


@contextmanager
def pyogrio_client(token: str | None) -> Iterator[None]:
    """pyogrio's GDAL with network and the header, restored afterwards."""
    options = client_options(token)
    before = {name: pyogrio.get_gdal_config_option(name) for name in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


@contextmanager
def rasterio_client(token: str | None) -> Iterator[None]:
    """rasterio's GDAL with network and the header, for the calls inside the block."""
    with rasterio.Env(**client_options(token)):
        yield
