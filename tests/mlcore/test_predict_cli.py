import argparse
import json

import geopandas as gpd
import numpy as np
import pytest

from mlcore import cli
from mlcore.commands import predict
from mlcore.modeldir.directory import CONFIG, write_json
from mlcore.raster.geotiff import is_valid_cog, open_geotiff
from tests.factories.change_scenes import make_one_pair_scene
from tests.factories.landslide_scenes import make_scene
from tests.mlcore.test_infer import write_model_dir


def run_predict(argv: list[str]) -> int:
    """Parse and run `predict` as `python -m mlcore` does, whether or not cli lists it yet."""
    parser = argparse.ArgumentParser(prog="python -m mlcore")
    predict.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["predict", *argv])
    return args.func(args)


def test_predict_writes_a_probability_cog_and_polygons_and_prints_a_summary(tmp_path, capsys):
    model = write_model_dir(tmp_path / "model", logit_bias=6.0)
    scene = make_scene(tmp_path / "scene", size=96, seed=5, nodata_rows=16)

    code = run_predict(
        [
            "--model", str(model),
            "--scene", f"{scene.image},{scene.dem}",
            "--out", str(tmp_path / "out" / "prob.tif"),
            "--polygons", str(tmp_path / "out" / "slides.gpkg"),
            "--threshold", "0.6",
            "--min-area", "10",
            "--batch-size", "4",
            "--chip-size", "32",
            "--overlap", "8",
            "--device", "cpu",
        ]
    )  # fmt: skip

    assert code == 0
    assert is_valid_cog(tmp_path / "out" / "prob.tif")
    slides = gpd.read_file(tmp_path / "out" / "slides.gpkg", layer="landslides")
    assert len(slides) == 1 and slides.crs.to_epsg() == 32647
    out = capsys.readouterr().out
    assert "96 x 96 px in 1 blocks on cpu" in out
    assert "1 polygons at threshold 0.60" in out
    assert "100.0%" in out


def test_a_scene_with_other_bands_is_an_error_message_and_exit_code_2(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys((*cli.COMMANDS, "predict"))))
    model = write_model_dir(tmp_path / "model")
    scene = make_scene(tmp_path / "scene", size=64, seed=5)
    out = tmp_path / "prob.tif"

    code = cli.main(
        ["predict", "--model", str(model), "--scene", str(scene.image), "--out", str(out)]
    )

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The model was trained on 4 bands (red, green, blue, dem)")
    assert not out.exists()


def test_unknown_devices_are_refused_by_the_parser(tmp_path):
    with pytest.raises(SystemExit):
        run_predict(["--model", "m", "--scene", "a.tif", "--out", "o.tif", "--device", "gpu"])


def test_an_instance_model_writes_one_polygon_per_landslide_with_a_score(
    tmp_path, capsys, tiny_maskrcnn
):
    pair = make_one_pair_scene(tmp_path / "pair", seed=3)
    out, polygons = tmp_path / "out" / "prob.tif", tmp_path / "out" / "slides.gpkg"

    code = run_predict(
        [
            "--model", str(tiny_maskrcnn.out_dir),
            "--scene", str(pair.image),
            "--out", str(out),
            "--polygons", str(polygons),
            "--device", "cpu",
        ]
    )  # fmt: skip

    assert code == 0 and is_valid_cog(out)
    slides = gpd.read_file(polygons, layer="landslides")
    assert len(slides) == 2  # the touching pair stays two landslides
    assert {"area_m2", "mean_prob", "max_prob", "score"} <= set(slides.columns)
    assert (slides["score"] >= tiny_maskrcnn.best_threshold).all()
    assert "2 polygons at threshold" in capsys.readouterr().out


def test_the_help_says_instance_models_give_a_polygon_per_landslide(capsys):
    with pytest.raises(SystemExit):
        run_predict(["--help"])
    assert "one polygon per landslide with a score" in " ".join(capsys.readouterr().out.split())


def test_the_model_chooses_test_time_flips_and_no_tta_turns_them_off(tmp_path):
    """As the README gives it: a model whose recipe predicts with flips does so by default,
    and `--no-tta` maps without them for one run."""
    model = write_model_dir(tmp_path / "model", weight_std=0.5)
    config = json.loads((model / CONFIG).read_text())
    write_json(model / CONFIG, {**config, "train": {"tta": True}})
    scene = make_scene(tmp_path / "scene", size=64, seed=3)

    def mapped(name: str, *extra: str) -> np.ndarray:
        out = tmp_path / name
        argv = ["--model", str(model), "--scene", f"{scene.image},{scene.dem}"]
        assert run_predict([*argv, "--out", str(out), "--device", "cpu", *extra]) == 0
        with open_geotiff(out) as ds:
            return ds.read(1)

    default, flipped, plain = mapped("a.tif"), mapped("b.tif", "--tta"), mapped("c.tif", "--no-tta")
    assert (default == flipped).all()
    assert np.abs(default.astype(int) - plain).max() > 2
