"""Where the server keeps the files it writes, and clean-up when a write fails."""

from __future__ import annotations

import contextlib
import contextvars
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from inventories.errors import InvalidInput
from inventories.storage import media_path  # services import it from here too


def new_relative_path(folder: str, suffix: str, *, stem: str | None = None) -> str:
    """A fresh server-chosen name: user file names never become paths.

    With `stem`, the file is `<folder>/<uuid>/<stem><suffix>`: mlcore names
    unnamed bands after the file (`dem`, `optical_1`), so every place's
    rasters of one kind carry the same band names.
    """
    if stem is not None:
        return f"{folder}/{uuid.uuid4().hex}/{stem}{suffix}"
    return f"{folder}/{uuid.uuid4().hex}{suffix}"


def new_upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "uploads" / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def remove_upload(path: Path) -> None:
    """Remove an uploaded file and its private folder."""
    uploads = (Path(settings.MEDIA_ROOT) / "uploads").resolve()
    folder = Path(path).resolve().parent
    if uploads in folder.parents:
        shutil.rmtree(folder, ignore_errors=True)


_journal: contextvars.ContextVar[Path | None] = contextvars.ContextVar("journal", default=None)


class _Staged(list):
    """The paths of one staged write; each is also noted in the running job's journal.

    A worker killed mid-write (kill -9, out of memory) runs no clean-up; the
    journal tells whoever takes its job over which half-written files to delete.
    """

    def append(self, path) -> None:
        super().append(path)
        journal = _journal.get()
        if journal is None:
            return
        try:
            relative = relative_to_media(Path(path))
        except ValueError:
            return  # outside MEDIA_ROOT (a temporary folder): not the server's to sweep
        journal.parent.mkdir(parents=True, exist_ok=True)
        with journal.open("a") as fh:
            fh.write(relative + "\n")


@contextmanager
def staging_journal(path: Path) -> Iterator[None]:
    """Note every staged write of this block in `path`; the journal goes when it ends."""
    token = _journal.set(Path(path))
    try:
        yield
    finally:
        _journal.reset(token)
        Path(path).unlink(missing_ok=True)


def sweep_journal(journal: Path, *, keep) -> None:
    """Delete the files a dead worker was writing, except those `keep(relative)` says are stored."""
    if not journal.exists():
        return
    for relative in set(journal.read_text().split()):
        if keep(relative):
            continue
        with contextlib.suppress(ValueError):
            target = media_path(relative)
            if target.is_dir():  # a folder written whole, e.g. a report's staging folder
                shutil.rmtree(target, ignore_errors=True)
                continue
            target.unlink(missing_ok=True)
            # and the temporary written beside it (mlcore.atomic: a folder .<name>.<random>.tmp)
            for temporary in target.parent.glob(f".{target.name}.*"):
                if temporary.is_dir():
                    shutil.rmtree(temporary, ignore_errors=True)
                else:
                    temporary.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()
    journal.unlink(missing_ok=True)


@contextmanager
def staged_files() -> Iterator[list[Path]]:
    """Collect paths (files or folders) written during an operation; delete them all if it fails.

    Makes a multi-file write (a DEM and its slope and hillshade) all or nothing.
    """
    written: list[Path] = _Staged()
    try:
        yield written
    except BaseException:
        for path in written:
            if Path(path).is_dir():  # a folder written whole (a report's staging folder)
                shutil.rmtree(path, ignore_errors=True)
                continue
            Path(path).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # its own uuid folder, when empty
                Path(path).parent.rmdir()
        raise


def store_upload(uploaded, *, allowed_suffixes: tuple[str, ...], max_bytes: int) -> Path:
    """Stream an uploaded file into a private folder under a server-chosen name.

    Only the suffix of the user's file name is kept (and only a known one), so
    the name can never point anywhere.
    """
    suffix = Path(uploaded.name or "").suffix.lower()
    if suffix not in allowed_suffixes:
        raise InvalidInput(
            f"{uploaded.name}: unsupported file type; use one of {', '.join(allowed_suffixes)}."
        )
    if uploaded.size is not None and uploaded.size > max_bytes:
        raise InvalidInput(f"{uploaded.name} is larger than the limit of {max_bytes} bytes.")
    folder = new_upload_dir()
    target = folder / f"upload{suffix}"
    written = 0
    with target.open("wb") as fh:
        for chunk in uploaded.chunks():
            written += len(chunk)
            if written > max_bytes:
                fh.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise InvalidInput(
                    f"{uploaded.name} is larger than the limit of {max_bytes} bytes."
                )
            fh.write(chunk)
    return target


def relative_to_media(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
