"""A whole accuracy report from GeoDataFrames or files, and the files it writes."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from mlcore.errors import MlcoreError
from mlcore.evaluation.outcome_map import ALPHA, COLOURS
from mlcore.evaluation.probability_map import open_probability_map, scan_probability_map
from mlcore.evaluation.report import build_report
from mlcore.evaluation.report_files import write_report
from tests.factories.rasters import UTM47N, write_geotiff

# Each outcome's colour as drawn: translucent over white.
OUTCOME_RGB = {k: 255 * ((1 - ALPHA) + ALPHA * np.asarray(to_rgb(c))) for k, c in COLOURS.items()}

X0, Y0 = 500_000.0, 3_450_000.0


def frame(*polygons, crs=UTM47N, index=None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=list(polygons), crs=crs, index=index)


def box(x: float, y: float, w: float, h: float | None = None) -> shapely.Polygon:
    """A w x h box whose lower left corner is (x, y) metres from the origin."""
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h))


@pytest.fixture
def squares():
    """A 10 m reference square, the prediction shifted 2 m east, in a 50 m area."""
    return frame(box(2, 0, 10)), frame(box(0, 0, 10)), frame(box(-20, -20, 50))


def test_two_squares_give_exact_pixel_object_and_area_figures(squares):
    report = build_report(*squares)
    data = report.to_json()

    assert data["pixel"]["counts"] == {"tp": 80, "fp": 20, "fn": 20, "tn": 2380}
    assert data["pixel"]["f1"] == pytest.approx(0.8)
    assert data["pixel"]["iou"] == pytest.approx(80 / 120)
    assert (data["objects"]["tp"], data["objects"]["fp"], data["objects"]["fn"]) == (1, 0, 0)
    assert data["objects"]["mean_iou_of_matches"] == pytest.approx(80 / 120)
    assert data["area"]["ratio"] == pytest.approx(1.0)
    assert data["area"]["pred_m2"] == pytest.approx(100.0)
    assert data["inputs"]["working_crs"] == UTM47N
    assert data["inputs"]["evaluation_area_m2"] == pytest.approx(2500.0)
    assert data["probability"] is None


def test_the_resolution_sets_the_pixel_grid(squares):
    report = build_report(*squares, resolution=2.0)

    assert report.grid.resolution == 2.0 and report.grid.width == 25
    assert report.to_json()["pixel"]["counts"] == {"tp": 20, "fp": 5, "fn": 5, "tn": 595}


def test_a_higher_iou_threshold_turns_the_match_into_a_miss(squares):
    report = build_report(*squares, iou_threshold=0.7)

    assert (report.objects.tp, len(report.objects.fp), len(report.objects.fn)) == (0, 1, 1)
    assert report.objects_any_overlap.tp == 1


def test_a_landslide_crossing_the_area_edge_counts_by_its_inside_part():
    pred, ref, area = frame(), frame(box(0, 0, 10)), frame(box(5, -5, 30))

    report = build_report(pred, ref, area)

    assert report.area.ref_m2 == pytest.approx(50.0)
    assert report.to_json()["pixel"]["counts"]["fn"] == 50
    assert any("cross the evaluation area's edge" in w for w in report.warnings)


def test_inputs_in_degrees_are_measured_in_metres(squares):
    in_degrees = [f.to_crs(4326) for f in squares]

    report = build_report(*in_degrees)

    assert "+proj=laea" in report.inputs.working_crs
    # UTM's scale factor 0.9996 makes a 10 m UTM square 100.08 m2 on the ground.
    assert report.area.ref_m2 == pytest.approx(100.08, rel=1e-3)
    assert report.objects.tp_iou[0] == pytest.approx(80 / 120, rel=1e-4)


def test_feature_ids_point_back_to_the_source_rows(squares):
    pred, _, area = squares
    ref = frame(box(0, 0, 10), box(20, 0, 5), index=[101, 202])

    data = build_report(pred, ref, area).to_json()

    assert data["objects"]["ids"]["tp_ref"] == [101]
    assert data["objects"]["ids"]["fn_ref"] == [202]


def test_an_inventory_elsewhere_is_refused(squares):
    pred, _, area = squares
    far_away = frame(box(50_000, 0, 10))

    with pytest.raises(MlcoreError, match="does not overlap the evaluation area"):
        build_report(pred, far_away, area)


def test_an_area_without_crs_is_refused(squares):
    pred, ref, area = squares

    with pytest.raises(MlcoreError, match="no coordinate reference system"):
        build_report(pred, ref, area.set_crs(None, allow_override=True))


def test_an_empty_area_is_refused(squares):
    pred, ref, _ = squares

    with pytest.raises(MlcoreError, match="no area to evaluate"):
        build_report(pred, ref, frame())


def probability_map(tmp_path):
    """64 x 64 m: a 20 x 20 blob of 0.9 and a 30 x 12 blob of 0.7 on 0.1, top-left at (X0, Y0)."""
    prob = np.full((64, 64), 0.1, np.float32)
    prob[5:25, 5:25] = 0.9
    prob[40:52, 10:40] = 0.7
    return write_geotiff(tmp_path / "prob.tif", prob)


def test_a_probability_map_gives_pixels_pr_curve_and_whole_objects(tmp_path):
    path = probability_map(tmp_path)
    # Rows grow southwards: row r spans Y0 - r - 1 .. Y0 - r.
    ref = frame(box(5, -25, 20), box(10, -52, 30, 12))
    area = frame(box(0, -64, 64))

    report = build_report(path, ref, area)
    data = report.to_json()

    assert data["inputs"]["pred_kind"] == "probability"
    assert data["pixel"]["counts"] == {"tp": 760, "fp": 0, "fn": 0, "tn": 64 * 64 - 760}
    assert (report.objects.tp, len(report.objects.fp)) == (2, 0)
    assert data["probability"]["average_precision"] == pytest.approx(1.0)
    assert 0.1 < data["probability"]["best_threshold"] <= 0.7


def test_polygons_cut_by_window_edges_are_glued_back(tmp_path):
    area = shapely.box(X0, Y0 - 64, X0 + 64, Y0)
    with open_probability_map(probability_map(tmp_path)) as ds:
        whole = scan_probability_map(ds, np.array([], dtype=object), area, block=2048)
        windowed = scan_probability_map(ds, np.array([], dtype=object), area, block=16)

    assert len(windowed.polygons) == len(whole.polygons) == 2
    assert sorted(shapely.area(windowed.polygons)) == [360.0, 400.0]
    assert windowed.counts == whole.counts


def test_scarp_byte_maps_are_read_by_their_scale_and_nodata(tmp_path):
    stored = np.full((10, 10), 126, np.uint8)  # p = 126 / 254, just under 0.5
    stored[:, 5:] = 127  # p = 0.5 exactly
    stored[0, :] = 255  # nodata
    path = write_geotiff(tmp_path / "prob.tif", stored, nodata=255)
    with rasterio.open(path, "r+") as ds:
        ds.scales = (1 / 254,)
    area = frame(box(0, -10, 10))

    report = build_report(path, frame(box(5, -10, 5, 10)), area)

    assert report.to_json()["pixel"]["counts"] == {"tp": 45, "fp": 0, "fn": 0, "tn": 45}
    assert report.warnings == []


def test_a_byte_map_without_scale_is_read_as_value_over_255_and_says_so(tmp_path):
    path = write_geotiff(tmp_path / "prob.tif", np.full((10, 10), 200, np.uint8))

    report = build_report(path, frame(box(0, -10, 5, 10)), frame(box(0, -10, 10)))

    assert report.pixel.tp == 50 and report.pixel.fp == 50
    assert any("read as value / 255" in w for w in report.warnings)


def test_a_probability_map_elsewhere_is_refused(tmp_path):
    far_area = frame(box(10_000, 0, 50))

    with pytest.raises(MlcoreError, match="prob.tif does not overlap"):
        build_report(probability_map(tmp_path), frame(box(10_000, 0, 5)), far_area)


def test_written_report_holds_every_section_plot_and_layer(squares, tmp_path):
    pred, _, area = squares
    ref = frame(box(0, 0, 10), box(20, 0, 5))

    files = write_report(build_report(pred, ref, area), tmp_path / "out")

    data = json.loads(files.json.read_text())
    for section in ("inputs", "grid", "pixel", "objects", "area", "area_frequency"):
        assert data[section]
    assert set(data["area_frequency"]) == {"pred", "ref"}
    assert files.csv.read_text().startswith("section,metric,value")
    assert files.areafreq_png.read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in files.areafreq_svg.read_text()
    assert files.pr_curve_png is None
    counts = {
        name: pyogrio.read_info(files.layers, layer=name)["features"] for name in ("tp", "fp", "fn")
    }
    assert counts == {"tp": 1, "fp": 0, "fn": 1}
    assert pyogrio.read_info(files.layers, layer="fn")["crs"] == "EPSG:4326"
    # The still map: the TP and the missed square in their colours; FP's only in the legend.
    pixels = (imread(files.outcome_map_png)[..., :3] * 255).round().astype(int).reshape(-1, 3)
    share = {k: np.all(abs(pixels - rgb) <= 2, axis=1).sum() for k, rgb in OUTCOME_RGB.items()}
    assert share["tp"] > 10 * share["fp"] and share["fn"] > 10 * share["fp"], share
