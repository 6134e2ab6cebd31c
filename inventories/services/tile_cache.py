"""Rendered imagery tiles kept on disk, so a tile is rendered once for the whole team.

A browser keeps a tile for a day, but every other member, and every new
session, would otherwise wait for the same tile to be read, warped, stretched
and encoded again. The cache lives under MEDIA_ROOT (`tile-cache/<scene id>/`),
so all web processes share it and it survives restarts.

What keys a tile: the scene's id and the checksum of its COG (sha256, taken
when the server wrote the file; older rows without one use file name, size and
creation time), the resolved style (bands, stretch, colour map: a preset is
resolved to those first), the address, size and format, and `RENDER_VERSION`.
A re-imported scene is a new row with a new file and checksum, so it never
meets the old tiles; a scene's folder goes when the scene is deleted
(`scene_tiles_forget`, after the commit).

Writes are atomic (a temporary file renamed into place), so two processes
rendering the same tile at once both leave one whole file and a reader never
sees half a tile.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from inventories.models import Scene
from mlcore.atomic import write_atomic

FOLDER = "tile-cache"
# Bump when rendering changes, so tiles rendered by older code are not served.
RENDER_VERSION = "2"

# Tiles this process rendered (cache misses): lets tests and the bench see a hit
# as a tile that was not rendered again, without looking inside the view.
renders = 0

_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def scene_fingerprint(scene: Scene) -> str:
    """What identifies the pixels of the scene's COG: its checksum, or for older rows a stamp."""
    if scene.checksum:
        return scene.checksum
    return f"{scene.file}|{scene.size_bytes}|{scene.created_at.isoformat()}"


def tile_key(*, scene: Scene, address: str, style_key: str) -> str:
    """The cache key (also the ETag) of one rendered tile of the scene."""
    stamp = "|".join([RENDER_VERSION, str(scene.pk), scene_fingerprint(scene), address, style_key])
    return hashlib.sha1(stamp.encode()).hexdigest()


def content_type(body: bytes) -> str:
    """The image type of rendered tile bytes, read from their first bytes."""
    for magic, kind in _MAGIC.items():
        if body.startswith(magic):
            return kind
    return "application/octet-stream"


def _folder(scene_pk: int) -> Path:
    return Path(settings.MEDIA_ROOT) / FOLDER / str(int(scene_pk))


def _path(scene: Scene, key: str) -> Path:
    return _folder(scene.pk) / key[:2] / key


def tile_get_or_render(
    *, scene: Scene, key: str, render: Callable[[], bytes | None]
) -> bytes | None:
    """The tile under `key`: from the cache, else rendered by `render()` and stored.

    `render` answers None where the tile holds none of the scene; nothing is
    stored then, so addresses around a scene (any zoom, any style) cannot fill
    the disk with empty tiles. With SCARP_TILE_CACHE off every call renders. A
    cache that cannot be written (disk full, read-only) still answers the tile.
    """
    global renders
    if not settings.SCARP_TILE_CACHE:
        renders += 1
        return render()
    path = _path(scene, key)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    renders += 1
    body = render()
    if body is None:
        return None
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body, durable=False)  # a lost tile is rendered again
    return body


def scene_tiles_forget(scene_pk: int) -> None:
    """Remove every cached tile of a scene (called after its delete commits)."""
    shutil.rmtree(_folder(scene_pk), ignore_errors=True)


def cached_tile_count(scene_pk: int) -> int:
    """How many tiles of the scene are cached (for tests, the bench and operators)."""
    folder = _folder(scene_pk)
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.glob("*/*") if not p.name.startswith("."))
