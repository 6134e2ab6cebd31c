"""Checkpoints are written atomically with a hash and load only as plain weights."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from mlcore.modeldir.checkpoints import (
    CheckpointRefused,
    load_checkpoint,
    read_sidecar,
    recover_checkpoint,
    save_checkpoint,
    sha256_of,
)


class _Payload:
    """Pickles into a call that would create a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_save_then_load_round_trips(tmp_path):
    path = tmp_path / "last.pt"
    sha = save_checkpoint({"model": {"w": torch.arange(4.0)}, "epoch": 3}, path)
    assert read_sidecar(path) == sha == sha256_of(path)
    loaded = load_checkpoint(path, expected_sha256=sha)
    assert loaded["epoch"] == 3
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "last.pt.sha256"]


def test_a_changed_file_is_refused(tmp_path):
    path = tmp_path / "best.pt"
    sha = save_checkpoint({"w": torch.zeros(8)}, path)
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointRefused, match="SHA-256"):
        load_checkpoint(path, expected_sha256=sha)


def test_a_pickle_payload_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "extra": _Payload(marker)}, path)
    with pytest.raises(CheckpointRefused, match="not a plain-weights checkpoint"):
        load_checkpoint(path, expected_sha256=sha256_of(path))
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the control: an unguarded load runs it
    assert marker.exists()


def test_a_raw_pickle_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointRefused):
        load_checkpoint(path, expected_sha256=sha256_of(path))
    assert not marker.exists()


def test_recover_finishes_a_commit_interrupted_after_the_sidecar(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"epoch": 1}, path)
    old = path.read_bytes()
    sha2 = save_checkpoint({"epoch": 2}, path)
    # Rebuild the moment of a crash: new bytes pending, sidecar switched, old file in place.
    (tmp_path / "last.pt.pending").write_bytes(path.read_bytes())
    path.write_bytes(old)
    assert recover_checkpoint(path) == sha2
    assert load_checkpoint(path, expected_sha256=sha2)["epoch"] == 2
    assert not (tmp_path / "last.pt.pending").exists()


def test_recover_drops_a_half_written_pending_file(tmp_path):
    path = tmp_path / "last.pt"
    sha = save_checkpoint({"epoch": 1}, path)
    (tmp_path / "last.pt.pending").write_bytes(b"PK\x03\x04 half a zip")
    assert recover_checkpoint(path) == sha
    assert load_checkpoint(path, expected_sha256=sha)["epoch"] == 1
    assert not (tmp_path / "last.pt.pending").exists()


def test_recover_without_a_checkpoint_says_none(tmp_path):
    assert recover_checkpoint(tmp_path / "last.pt") is None
