"""`python -m mlcore train` end to end on tiny generated scenes, and its clear refusals."""

from __future__ import annotations

import argparse
import json

import geopandas as gpd
import numpy as np
import pytest
import torch

from mlcore.commands.train import register
from mlcore.errors import MlcoreError
from tests.factories.landslide_scenes import ORIGIN, make_scene
from tests.factories.rasters import write_geotiff

torch.set_num_threads(1)
FAST = ["--encoder", "none", "--encoder-depth", "3", "--base-channels", "8", "--chip-size", "64"]
FAST += ["--chips-per-epoch", "48", "--batch-size", "8", "--workers", "0", "--device", "cpu"]
FAST += ["--scale", "1"]  # the scenes are small: keep their own pixels


def cli(*argv: str) -> int:
    """Parse and run like `python -m mlcore train ...`."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *argv])
    return args.func(args)


@pytest.fixture
def two_places(tmp_path):
    """Scene A trains (all its extents 'train'), scene B validates, as with the Baige data."""
    a = make_scene(tmp_path / "A", seed=1)
    b = make_scene(tmp_path / "B", seed=2, origin=(ORIGIN[0] + 300, ORIGIN[1]))
    for scene, split in ((a, "train"), (b, "validation")):
        frame = gpd.read_file(scene.extents)
        frame["split"] = split
        frame.to_file(scene.extents, layer="extent")
    return a, b


def test_one_epoch_writes_the_model_directory(two_places, tmp_path, capsys):
    a, b = two_places
    out = tmp_path / "model"
    code = cli(
        "--scene", f"{a.image},{a.dem}", "--scene", f"{b.image},{b.dem}",
        "--labels", f"{a.landslides},{b.landslides}",
        "--extents", str(a.extents), "--extents", str(b.extents),
        "--epochs", "1", "--out", str(out), *FAST,
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "epoch 1/1" in printed and "validation F1 " in printed
    for name in ("config.json", "metrics.json", "best.pt", "best.pt.sha256", "last.pt"):
        assert (out / name).exists()
    config = json.loads((out / "config.json").read_text())
    assert config["input"]["bands"] == ["red", "green", "blue", "dem"]
    assert config["scenes"]["validation"] == ["image.tif,dem.tif"] * 2


def test_an_existing_training_needs_resume(two_places, tmp_path, capsys):
    a, _ = two_places
    out = tmp_path / "model"
    args = ["--scene", str(a.image), "--labels", str(a.landslides), "--out", str(out), *FAST]
    mixed = make_scene(tmp_path / "mixed")
    args += ["--extents", str(mixed.extents), "--epochs", "1"]
    assert cli(*args) == 0
    with pytest.raises(MlcoreError, match="pass --resume"):
        cli(*args)
    assert cli(*args, "--epochs", "2", "--resume") == 0
    assert "epoch 2/2" in capsys.readouterr().out


def test_extents_without_split_are_refused(two_places, tmp_path):
    a, _ = two_places
    gpd.read_file(a.extents).drop(columns="split").to_file(tmp_path / "nosplit.gpkg")
    with pytest.raises(MlcoreError, match="nosplit.gpkg have no 'split' column"):
        cli("--scene", str(a.image), "--labels", str(a.landslides),
            "--extents", str(tmp_path / "nosplit.gpkg"),
            "--out", str(tmp_path / "m"), *FAST)  # fmt: skip


def test_extents_away_from_every_scene_are_refused(two_places, tmp_path):
    a, b = two_places
    far = gpd.read_file(a.extents).to_crs("EPSG:32647").translate(50_000, 0)
    gpd.GeoDataFrame({"split": ["train"]}, geometry=far, crs="EPSG:32647").to_file(
        tmp_path / "far.gpkg"
    )
    with pytest.raises(MlcoreError, match="No train extent overlaps any scene"):
        cli("--scene", str(a.image), "--labels", str(a.landslides),
            "--extents", f"{tmp_path / 'far.gpkg'},{b.extents}",
            "--out", str(tmp_path / "m"), *FAST)  # fmt: skip


def test_scenes_with_different_bands_are_refused(two_places, tmp_path):
    a, b = two_places
    with pytest.raises(MlcoreError, match="same bands in the same order"):
        cli("--scene", f"{a.image},{a.dem}", "--scene", str(b.image),
            "--labels", str(a.landslides), "--extents", f"{a.extents},{b.extents}",
            "--out", str(tmp_path / "m"), *FAST)  # fmt: skip


def test_an_unknown_architecture_lists_the_valid_ones(two_places, tmp_path):
    a, b = two_places
    with pytest.raises(MlcoreError, match="choose one of: unet, unetplusplus"):
        cli("--scene", str(a.image), "--labels", str(a.landslides),
            "--extents", f"{a.extents},{b.extents}", "--out", str(tmp_path / "m"),
            *FAST, "--arch", "fcn")  # fmt: skip


def test_a_renamed_text_file_is_not_opened_as_a_raster(two_places, tmp_path):
    a, b = two_places
    fake = tmp_path / "fake.tif"
    fake.write_text("<VRTDataset></VRTDataset>")
    write_geotiff(tmp_path / "ok.tif", np.ones((8, 8), np.uint8))
    with pytest.raises(MlcoreError, match="not a GeoTIFF"):
        cli("--scene", f"{tmp_path / 'ok.tif'},{fake}", "--labels", str(a.landslides),
            "--extents", str(a.extents), "--out", str(tmp_path / "m"), *FAST)  # fmt: skip
