"""GDAL as a GIS client of the live test server, with the token in a header.

Scarp turns GDAL's network access off in its own processes (mlcore.gdal_env
points GDAL_HTTP_PROXY at a dead port). A test that plays QGIS or ogr2ogr
against our own server lifts that for one client call only, and sends the
API token the way a user would: in the header (GDAL_HTTP_HEADERS), or as
the Basic password (GDAL_HTTP_USERPWD) for the OAPIF driver, whose own Accept
header replaces GDAL_HTTP_HEADERS.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio


def client_options(token: str | None, *, basic_user: str | None = None) -> dict[str, str]:
    options = {
        # The empty proxy overrides the environment's dead one for libcurl.
        "GDAL_HTTP_PROXY": "",
        "GDAL_HTTPS_PROXY": "",
        "GDAL_HTTP_MAX_RETRY": "0",
        # No cached answers between a member's and an outsider's call.
        "GDAL_HTTP_USE_CACHE": "NO",
    }
    if token and basic_user:
        options["GDAL_HTTP_AUTH"] = "BASIC"
        options["GDAL_HTTP_USERPWD"] = f"{basic_user}:{token}"
    elif token:
        options["GDAL_HTTP_HEADERS"] = f"Authorization: Token {token}"
    return options


def ogr2ogr(
    source: str, out: Path, *, token: str, user: str, layer: str | None = None, **open_options
) -> subprocess.CompletedProcess:
    """The documented command, Debian's ogr2ogr, copying an OAPIF source into a GeoPackage.

    A separate program, as a user runs it: pyogrio's GDAL in the test process keeps
    Python's lock while it pages through features, so the live server's thread never
    answered the next page (the test hung).
    """
    command = ["ogr2ogr", "-f", "GPKG", str(out), source]
    if layer:
        command.append(layer)
    for name, value in client_options(token, basic_user=user).items():
        command += ["--config", name, value]
    for name, value in open_options.items():
        command += ["-oo", f"{name}={value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@contextmanager
def rasterio_client(token: str | None) -> Iterator[None]:
    """rasterio's GDAL with network and the header, for the calls inside the block."""
    with rasterio.Env(**client_options(token)):
        yield
