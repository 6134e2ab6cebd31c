"""Checkpoint files: written atomically with a SHA-256 sidecar, loaded only by hash.

torch.load on an untrusted file runs whatever its pickle says, so a checkpoint
is loaded only after its bytes match a hash the caller already trusts, and
then with `weights_only=True`, which refuses any object that is not tensors,
numbers, strings and plain containers.

A write is a small two-phase commit so that a crash at any moment leaves one
complete checkpoint whose hash the sidecar names: the new bytes go to
`<name>.pending` (fsynced), then the sidecar switches to the new hash, then
the pending file replaces the old one. `recover_checkpoint` finishes a commit
a crash interrupted; a half-written pending file never matches the sidecar and
is dropped.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from mlcore.atomic import fsync, write_atomic
from mlcore.errors import MlcoreError

_CHUNK = 1 << 20


class CheckpointRefused(MlcoreError):
    """A checkpoint whose hash does not match, or whose payload is not plain weights."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _pending_path(path: Path) -> Path:
    return path.with_name(path.name + ".pending")


def save_checkpoint(obj: dict[str, Any], path: str | Path) -> str:
    """Write `obj` to `path` atomically, its hash to `<path>.sha256`; return the hash."""
    path = Path(path)
    pending = _pending_path(path)
    with pending.open("wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    digest = sha256_of(pending)
    write_atomic(sidecar_path(path), f"{digest}  {path.name}\n".encode())
    os.replace(pending, path)
    fsync(path.parent)
    return digest


def read_sidecar(path: str | Path) -> str | None:
    """The hash recorded beside `path`, or None when there is no sidecar."""
    side = sidecar_path(Path(path))
    if not side.exists():
        return None
    text = side.read_text().split()
    return text[0] if text else None


def recover_checkpoint(path: str | Path) -> str | None:
    """Bring `path` to the state of its last completed write; return its hash or None.

    Finishes a commit a crash interrupted (pending file complete, sidecar
    switched) and drops a pending file a crash left half-written.
    """
    path = Path(path)
    expected = read_sidecar(path)
    pending = _pending_path(path)
    if pending.exists():
        if expected is not None and sha256_of(pending) == expected:
            os.replace(pending, path)
            fsync(path.parent)
        else:
            pending.unlink()
    if expected is None or not path.exists():
        return None
    return expected


def load_checkpoint(path: str | Path, *, expected_sha256: str) -> dict[str, Any]:
    """Load a checkpoint whose bytes hash to `expected_sha256`, as plain weights only.

    Raises CheckpointRefused when the hash differs or the payload holds
    anything but tensors and plain data; nothing in the file runs.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointRefused(f"{path.name}: checkpoint file not found.")
    actual = sha256_of(path)
    if actual != expected_sha256.lower():
        raise CheckpointRefused(
            f"{path.name}: its SHA-256 ({actual[:12]}…) is not the recorded one "
            f"({expected_sha256[:12]}…); the file changed since it was written, so it is "
            "not loaded. Retrain or restore the original file."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        raise CheckpointRefused(
            f"{path.name} is not a plain-weights checkpoint and was not loaded "
            f"({type(exc).__name__}); only checkpoints written by Scarp can be used."
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointRefused(f"{path.name} does not hold a checkpoint dictionary.")
    return obj
