"""Scenes from STAC: an Item (or an ItemCollection) whose COG assets become Scenes.

Each GeoTIFF asset goes through `scene_upload_start`, the very path of a
file upload (same header checks, same job, same COG), so a STAC import of
a COG and an upload of it give the same Scene. What an asset may point at
is the operator's choice, never the document's:

- a local path (or file:// URL) only under SCARP_STAC_IMPORT_ROOT, after
  resolving links, and nothing when that setting is empty;
- an http(s) URL only when SCARP_GDAL_ALLOW_NETWORK is true;
- nothing else (no /vsi... paths, no other schemes).

Band names come from the asset's `bands` (STAC 1.1) or `eo:bands`; the
acquisition date from the Item's datetime (or start_datetime).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.files import File
from django.db import transaction

from inventories.errors import InvalidInput
from inventories.models import Job, Project
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path, remove_upload
from inventories.services.jobs import upload_of
from inventories.services.uploads import scene_upload_start
from mlcore.gdal_env import ALLOW_NETWORK_VARIABLE, refused_path

GEOTIFF_TYPES = ("image/tiff", "image/geotiff")
MAX_ITEMS = 100


@dataclass(frozen=True)
class StacAsset:
    """One GeoTIFF asset to import, as the document describes it."""

    item_id: str
    key: str
    href: str
    name: str
    band_names: list[str]
    acquired_on: dt.date | None


def _items(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise InvalidInput("The STAC document must be a JSON object (an Item or ItemCollection).")
    kind = document.get("type")
    if kind == "Feature":
        return [document]
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidInput("The STAC ItemCollection has no features.")
        if len(features) > MAX_ITEMS:
            raise InvalidInput(f"A STAC import takes at most {MAX_ITEMS} Items at once.")
        return features
    raise InvalidInput(
        f"A STAC document of type {kind!r} cannot be imported; give an Item (type Feature) "
        "or an ItemCollection (type FeatureCollection)."
    )


def _date(properties: dict[str, Any]) -> dt.date | None:
    value = properties.get("datetime") or properties.get("start_datetime")
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        raise InvalidInput(f"The STAC datetime {value!r} is not an ISO 8601 time.") from None


def _band_names(asset: dict[str, Any]) -> list[str]:
    bands = asset.get("bands") or asset.get("eo:bands") or []
    names = [str(b.get("name") or "").strip() for b in bands if isinstance(b, dict)]
    return names if names and all(names) else []


def stac_assets(document: Any) -> list[StacAsset]:
    """The GeoTIFF assets of an Item or ItemCollection, or a sentence saying what is wrong."""
    found = []
    for item in _items(document):
        item_id = str(item.get("id") or "").strip()
        if not item_id or not isinstance(item.get("assets"), dict):
            raise InvalidInput("Every STAC Item needs an id and assets.")
        properties = item.get("properties") or {}
        acquired_on = _date(properties)
        geotiffs = [
            (key, asset)
            for key, asset in item["assets"].items()
            if isinstance(asset, dict)
            and str(asset.get("type", "")).split(";")[0].strip() in GEOTIFF_TYPES
            and ("data" in asset.get("roles", ["data"]))
        ]
        for key, asset in geotiffs:
            title = str(properties.get("title") or item_id)
            found.append(
                StacAsset(
                    item_id=item_id,
                    key=key,
                    href=str(asset.get("href") or ""),
                    name=title if len(geotiffs) == 1 else f"{title} {key}",
                    band_names=_band_names(asset),
                    acquired_on=acquired_on,
                )
            )
    if not found:
        raise InvalidInput("The STAC document has no GeoTIFF data asset to import.")
    return found


def _local_file(asset: StacAsset) -> Path:
    root_setting = settings.SCARP_STAC_IMPORT_ROOT
    if not root_setting:
        raise InvalidInput(
            f"Asset {asset.key!r} of {asset.item_id} is a local path; this server imports "
            "local STAC assets only under an import folder the operator sets "
            "(SCARP_STAC_IMPORT_ROOT), and none is set."
        )
    href = asset.href
    if href.startswith("file://"):
        href = unquote(urlparse(href).path)
    root = Path(root_setting).resolve()
    path = (root / href).resolve()  # an absolute href stays absolute
    if not path.is_relative_to(root):
        raise InvalidInput(
            f"Asset {asset.key!r} of {asset.item_id} ({asset.href}) is outside the STAC "
            "import folder; only files under it can be imported."
        )
    if not path.is_file():
        raise InvalidInput(f"Asset {asset.key!r} of {asset.item_id}: no file at {asset.href}.")
    return path


def _download(asset: StacAsset, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not settings.SCARP_GDAL_ALLOW_NETWORK:
        raise InvalidInput(
            f"Asset {asset.key!r} of {asset.item_id} is remote ({asset.href}); this server "
            f"does not fetch remote files ({ALLOW_NETWORK_VARIABLE} is off). Download it "
            "and upload the file instead."
        )
    target = folder / "asset.tif"
    limit = settings.SCARP_MAX_UPLOAD_BYTES
    try:
        with urllib.request.urlopen(asset.href, timeout=60) as response, target.open("wb") as fh:  # noqa: S310 - http(s) only, checked above
            written = 0
            while chunk := response.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise InvalidInput(f"{asset.href} is larger than the limit of {limit} bytes.")
                fh.write(chunk)
    except OSError as exc:  # unreachable, refused, timed out, an HTTP error status
        raise InvalidInput(
            f"Asset {asset.key!r} of {asset.item_id} could not be fetched from {asset.href}: "
            f"{getattr(exc, 'reason', None) or exc}."
        ) from None
    return target


def _source(asset: StacAsset, folder: Path) -> Path:
    scheme = urlparse(asset.href).scheme.lower()
    if scheme in ("http", "https"):
        return _download(asset, folder)
    if scheme not in ("", "file") or refused_path(asset.href.removeprefix("file://")):
        raise InvalidInput(
            f"Asset {asset.key!r} of {asset.item_id} ({asset.href}) is neither a local path "
            "nor an http(s) URL."
        )
    return _local_file(asset)


def _start(project: Project, asset: StacAsset, source: Path, user, kind: str, phase: str) -> Job:
    filename = Path(urlparse(asset.href).path).name or f"{asset.item_id}.tif"
    if not filename.lower().endswith((".tif", ".tiff")):
        filename += ".tif"
    with source.open("rb") as fh:
        return scene_upload_start(
            project=project,
            uploaded=File(fh, name=filename),
            user=user,
            name=asset.name,
            kind=kind,
            phase=phase,
            band_names=asset.band_names or None,
            acquired_on=asset.acquired_on,
        )


def stac_import_start(
    *, project: Project, document: Any, user, kind: str = "optical", phase: str = "post"
) -> list[Job]:
    """Queue one scene import per GeoTIFF asset; all or nothing for the checks.

    The role is checked first, so a visitor without it makes the server fetch nothing.
    """
    require(user, project, Action.MANAGE)
    assets = stac_assets(document)
    jobs: list[Job] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Every asset is reachable and allowed before anything is stored.
        sources = [_source(asset, Path(tmp) / str(n)) for n, asset in enumerate(assets)]
        try:
            with transaction.atomic():
                for asset, source in zip(assets, sources, strict=True):
                    jobs.append(_start(project, asset, source, user, kind, phase))
        except BaseException:
            for job in jobs:  # the rows rolled back; their uploads go too
                remove_upload(media_path(upload_of(job)))
            raise
    return jobs


def stac_document(raw: bytes | str, source_name: str = "the STAC file") -> Any:
    """Parse an uploaded STAC JSON, or say it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            f"{source_name} is not JSON; give a STAC Item or ItemCollection."
        ) from None
