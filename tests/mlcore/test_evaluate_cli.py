"""`python -m mlcore evaluate` on small generated files."""

from __future__ import annotations

import argparse
import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from mlcore.commands import evaluate
from mlcore.errors import MlcoreError
from tests.factories.rasters import UTM47N, write_geotiff

X0, Y0 = 500_000.0, 3_450_000.0
SECTIONS = ("inputs", "grid", "pixel", "objects", "objects_any_overlap", "area", "area_frequency")


def run_evaluate(*argv: str) -> int:
    """Parse and run exactly as `python -m mlcore evaluate ARGV` does."""
    parser = argparse.ArgumentParser(prog="python -m mlcore")
    evaluate.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["evaluate", *argv])
    return args.func(args)


def write_polygons(path, *boxes, crs=UTM47N):
    """GeoPackage of boxes given as (x, y, size) metres from the origin."""
    polygons = [shapely.box(X0 + x, Y0 + y, X0 + x + s, Y0 + y + s) for x, y, s in boxes]
    gpd.GeoDataFrame(geometry=polygons, crs=crs).to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 900, (60, 2))
    sizes = rng.uniform(3, 30, 60)
    ref = [(x, y, s) for (x, y), s in zip(corners, sizes, strict=True)]
    pred = [(x + 1, y, s) for x, y, s in ref[:45]] + [(950, 950, 10)]
    return (
        write_polygons(tmp_path / "pred.gpkg", *pred),
        write_polygons(tmp_path / "ref.gpkg", *ref),
        write_polygons(tmp_path / "area.gpkg", (0, 0, 1000)),
    )


def test_evaluate_writes_a_report_with_every_section(inputs, tmp_path, capsys):
    pred, ref, area = inputs
    out, plots = tmp_path / "report.json", tmp_path / "plots"

    code = run_evaluate(
        "--pred", str(pred), "--ref", str(ref), "--area", str(area), "--out", str(out),
        "--iou", "0.6", "--resolution", "2", "--plots", str(plots),
    )  # fmt: skip

    assert code == 0
    data = json.loads(out.read_text())
    assert all(data[section] for section in SECTIONS)
    assert data["objects"]["iou_threshold"] == 0.6
    assert data["objects"]["n_ref"] == 60 and data["objects"]["fp"] >= 1
    assert data["grid"]["resolution"] == 2.0
    assert data["area_frequency"]["ref"]["n"] == 60
    for name in ("summary.csv", "areafreq.png", "areafreq.svg", "layers.gpkg"):
        assert (plots / name).stat().st_size > 0
    assert pyogrio.read_info(plots / "layers.gpkg", layer="fn")["features"] >= 15
    assert "report written to" in capsys.readouterr().out


def test_evaluate_a_probability_map_gives_the_pr_curve(tmp_path):
    prob = np.full((100, 100), 0.05, np.float32)
    prob[10:40, 10:40] = 0.8
    prob[60:70, 50:90] = 0.6
    tif = write_geotiff(tmp_path / "prob.tif", prob)
    ref = write_polygons(tmp_path / "ref.gpkg", (10, -40, 30), (50, -70, 10))
    area = write_polygons(tmp_path / "area.gpkg", (0, -100, 100))
    out = tmp_path / "report.json"

    code = run_evaluate(
        "--pred", str(tif), "--ref", str(ref), "--area", str(area), "--out", str(out),
        "--threshold", "0.7", "--plots", str(tmp_path / "plots"),
    )  # fmt: skip

    data = json.loads(out.read_text())
    assert code == 0
    assert data["inputs"]["threshold"] == 0.7
    assert data["objects"]["tp"] == 1 and data["objects"]["fn"] == 1
    assert data["probability"]["average_precision"] > 0.5
    assert len(data["probability"]["precision"]) == 256
    assert (tmp_path / "plots" / "pr_curve.png").exists()


def test_a_missing_file_is_a_clear_error(inputs, tmp_path):
    pred, _, area = inputs

    with pytest.raises(MlcoreError, match="nowhere.gpkg: no such file"):
        run_evaluate(
            "--pred", str(pred), "--ref", str(tmp_path / "nowhere.gpkg"), "--area", str(area),
            "--out", str(tmp_path / "report.json"),
        )  # fmt: skip
    assert not (tmp_path / "report.json").exists()


def test_a_file_without_crs_is_a_clear_error(inputs, tmp_path):
    pred, ref, _ = inputs
    area = tmp_path / "area_nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]).to_file(area, engine="pyogrio")

    with pytest.raises(MlcoreError, match="area_nocrs.gpkg has no coordinate reference system"):
        run_evaluate(
            "--pred", str(pred), "--ref", str(ref), "--area", str(area),
            "--out", str(tmp_path / "report.json"),
        )  # fmt: skip


def test_a_resolution_with_a_probability_map_is_refused(tmp_path):
    tif = write_geotiff(tmp_path / "prob.tif", np.zeros((10, 10), np.float32))
    ref = write_polygons(tmp_path / "ref.gpkg", (1, -5, 3))
    area = write_polygons(tmp_path / "area.gpkg", (0, -10, 10))

    with pytest.raises(MlcoreError, match="leave out the resolution"):
        run_evaluate(
            "--pred", str(tif), "--ref", str(ref), "--area", str(area),
            "--out", str(tmp_path / "r.json"), "--resolution", "5",
        )  # fmt: skip


def test_a_file_that_is_not_a_vector_file_is_a_clear_error(inputs, tmp_path):
    _, ref, area = inputs
    garbage = tmp_path / "pred.gpkg"
    garbage.write_text("not a geopackage")

    with pytest.raises(MlcoreError, match="pred.gpkg is named .gpkg but is not a GeoPackage"):
        run_evaluate(
            "--pred", str(garbage), "--ref", str(ref), "--area", str(area),
            "--out", str(tmp_path / "report.json"),
        )  # fmt: skip
