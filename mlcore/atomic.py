"""Writing a file so that a reader sees the old one or the new one, never half of it.

Every file mlcore writes for someone else to read (COGs, GeoPackages, JSON,
checkpoint sidecars, plots) goes through `atomic_path`, so there is one
answer to the questions a second routine would answer differently:

- the temporary file sits in a private folder beside the destination (the
  same file system, so `os.replace` is atomic) and keeps the destination's
  name, because GDAL, pyogrio and matplotlib choose a format by suffix; the
  sidecars GDAL adds (`.aux.xml`) land in that folder too;
- it gets the mode `open()` gives, 0666 less the umask, whatever the writer
  chose (mkstemp's 0600, SQLite's 0644), so the web server and the worker,
  running as different users of one group, can both read it;
- it is flushed to disk before it replaces the destination, and the
  directory entry after, so a crash leaves the old file or the new one;
- the folder is removed whatever happens: a failed write leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "fsync", "write_atomic"]


def fsync(path: Path) -> None:
    """Flush a file's bytes, or a directory's entries (so a rename in it survives a crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads share it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dst: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """A path to write instead of `dst`; it replaces `dst` only if the block succeeds.

    `durable=False` skips the two fsyncs, for a cache that may lose its newest
    entries in a crash but must never serve half of one.
    """
    dst = Path(dst)
    folder = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    tmp = folder / dst.name
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # what open() gives; SQLite (GeoPackage) gives 0644
        if durable:
            fsync(tmp)
        os.replace(tmp, dst)
        if durable:
            fsync(dst.parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_atomic(path: str | Path, data: bytes | str, *, durable: bool = True) -> Path:
    """Replace `path` with `data` (text is written as UTF-8)."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
