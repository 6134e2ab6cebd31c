"""GDAL without network access, and the one check every user path passes first.

Scarp hands GDAL only local files the server stored, each opened through a
driver it chose after checking the file's first bytes (`mlcore.raster.geotiff`,
`mlcore.vector.formats`). As a second wall, GDAL's network access is turned
off in every Scarp process (web, workers, CLI) unless the operator sets
SCARP_GDAL_ALLOW_NETWORK=true: a file that still names a URL then meets a
dead proxy and a /vsicurl/ that accepts no file name.

The options go into the process environment, not into one GDAL's config,
because rasterio and pyogrio each bundle their own GDAL and both read it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlcore.errors import MlcoreError

ALLOW_NETWORK_VARIABLE = "SCARP_GDAL_ALLOW_NETWORK"
_DEAD_PROXY = "127.0.0.1:9"  # the discard port: connections are refused at once
NETWORK_OFF: dict[str, str] = {
    # Every request of CPLHTTPFetch and /vsicurl/ (and /vsis3/, /vsigs/, ... built on it).
    "GDAL_HTTP_PROXY": _DEAD_PROXY,
    "GDAL_HTTPS_PROXY": _DEAD_PROXY,
    # /vsicurl/ and its kin open only this file name, which no URL has.
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/scarp/gdal-network-is-off",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".scarp-gdal-network-is-off",
    "GDAL_HTTP_MAX_RETRY": "0",
    # PROJ's grid downloads (off by default; an operator's PROJ_NETWORK=ON is overridden).
    "PROJ_NETWORK": "OFF",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_VIRTUAL_PREFIXES = ("/vsi", "\\vsi")


class GdalSettingError(MlcoreError, ValueError):
    """A malformed SCARP_GDAL_ALLOW_NETWORK: stop rather than guess."""


def network_allowed(environ: dict[str, str] | None = None) -> bool:
    """SCARP_GDAL_ALLOW_NETWORK as a bool; anything but a clear yes or no is an error."""
    value = (os.environ if environ is None else environ).get(ALLOW_NETWORK_VARIABLE, "")
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise GdalSettingError(
        f"{ALLOW_NETWORK_VARIABLE}={value!r} is neither true nor false; "
        "set it to false (the default: GDAL reads local files only) or true."
    )


def apply_network_policy(allow: bool | None = None) -> None:
    """Turn GDAL's network access off in this process, unless it is allowed.

    Idempotent; called as the reading modules load and by the web app's
    settings, so no process reaches GDAL before it ran.
    """
    if allow is None:
        allow = network_allowed()
    if allow:
        return
    os.environ.update(NETWORK_OFF)


def refused_path(path: str | Path) -> str | None:
    """Why GDAL must not be handed `path` (a URL or a virtual file system), or None.

    The caller still checks the file's first bytes; this keeps /vsicurl/,
    /vsizip/, http://, s3:// and the like from ever reaching GDAL.
    """
    text = os.fspath(path)
    if text.lower().startswith(_VIRTUAL_PREFIXES) or "://" in text:
        return f"Scarp reads local files only, not {text!r}; download the file and give its path"
    return None
