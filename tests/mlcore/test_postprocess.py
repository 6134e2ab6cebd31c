"""Post-processing: a fragmented mask becomes one polygon, holes close, specks go, and the
settings chosen on validation travel in the model directory to every prediction."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.transform import from_origin

from mlcore.errors import MlcoreError
from mlcore.predict.postprocess import Postprocess, Validation, tune_postprocess
from mlcore.predict.predictor import model_postprocess, scene_polygons
from mlcore.predict.probability_raster import NODATA
from tests.factories.rasters import UTM47N, write_geotiff

ORIGIN = (500_000.0, 3_450_000.0)


def prob_map(path, data: np.ndarray):
    return write_geotiff(path, data.astype(np.uint8), nodata=NODATA, origin=ORIGIN)


def fragmented_landslide() -> np.ndarray:
    """One 60 x 40 m scar as a network draws it: cut by two one-pixel cracks, pitted, specked."""
    data = np.zeros((100, 100), np.uint8)
    data[20:80, 30:70] = 220
    data[20:80, 49] = 40  # a crack across the whole scar: two fragments at the threshold
    data[50, 30:70] = 40  # and another: four
    data[30:34, 35:39] = 40  # a pit of 16 m2 inside a fragment
    data[90, 5] = data[5, 90] = 230  # two one-pixel specks
    return data


def test_a_fragmented_mask_becomes_one_polygon_with_its_holes_filled_and_no_specks(tmp_path):
    path = prob_map(tmp_path / "prob.tif", fragmented_landslide())

    raw = Postprocess(threshold=0.5, opening=0, closing=0).polygons(path)
    cleaned = Postprocess(threshold=0.5, opening=0, closing=2, min_area_m2=20).polygons(path)

    assert len(raw) == 6  # four fragments and two specks
    assert len(cleaned) == 1
    polygon = cleaned.geometry.iloc[0]
    assert len(polygon.interiors) == 0
    assert polygon.area == pytest.approx(60 * 40, rel=0.02)


def test_landslides_under_the_minimum_area_are_dropped_and_larger_holes_kept(tmp_path):
    data = np.zeros((100, 100), np.uint8)
    data[10:40, 10:40] = 220  # 900 m2
    data[20:30, 20:30] = 0  # a 100 m2 hole
    data[60:65, 60:65] = 220  # 25 m2
    path = prob_map(tmp_path / "prob.tif", data)

    kept = Postprocess(opening=0, closing=0, min_area_m2=50, max_hole_m2=50).polygons(path)

    assert len(kept) == 1 and kept["area_m2"].iloc[0] == pytest.approx(800)
    assert len(kept.geometry.iloc[0].interiors) == 1


def test_simplification_smooths_the_pixel_staircase_but_keeps_the_area(tmp_path):
    yy, xx = np.mgrid[0:120, 0:120]
    data = (((yy - 60) ** 2 + (xx - 60) ** 2) < 40**2).astype(np.uint8) * 220
    path = prob_map(tmp_path / "prob.tif", data)
    stairs = Postprocess(opening=0, closing=0).polygons(path).geometry.iloc[0]
    smooth = Postprocess(opening=0, closing=0, simplify_px=1.0).polygons(path).geometry.iloc[0]
    assert shapely.get_num_coordinates(smooth) < shapely.get_num_coordinates(stairs) / 3
    assert smooth.area == pytest.approx(stairs.area, rel=0.02)


def test_tuning_picks_settings_that_join_fragments_and_drop_specks(tmp_path):
    path = prob_map(tmp_path / "prob.tif", fragmented_landslide())
    transform = from_origin(*ORIGIN, 1.0, 1.0)
    x0, y0 = transform * (30, 20)
    x1, y1 = transform * (70, 80)
    ref = gpd.GeoDataFrame(geometry=[shapely.box(x0, y1, x1, y0)], crs=UTM47N)
    area = gpd.GeoDataFrame(
        geometry=[shapely.box(*(transform * (0, 100)), *(transform * (100, 0)))], crs=UTM47N
    )

    tuned = tune_postprocess([Validation(path, ref, area)])

    assert tuned.object_f1 == 1.0 and tuned.pixel_f1 > 0.95
    assert tuned.postprocess.closing >= 1 and tuned.postprocess.min_area_m2 > 0
    assert len(tuned.postprocess.polygons(path)) == 1


def test_prediction_reads_the_post_processing_saved_in_the_model_directory(tmp_path):
    path = prob_map(tmp_path / "prob.tif", fragmented_landslide())
    model = tmp_path / "model"
    model.mkdir()
    saved = Postprocess(threshold=0.45, opening=0, closing=2, min_area_m2=20, simplify_px=1.0)
    config = {"format": "scarp-model/1", "threshold": 0.45, "postprocess": saved.to_dict()}
    (model / "config.json").write_text(json.dumps(config))

    assert model_postprocess(model) == saved
    assert len(scene_polygons(model, path)) == 1
    # A user's own threshold and minimum area win for one prediction; the rest stays the model's.
    mine = model_postprocess(model, threshold=0.6, min_area_m2=5000)
    assert (mine.threshold, mine.min_area_m2, mine.closing) == (0.6, 5000, 2)
    assert len(scene_polygons(model, path, min_area_m2=5000)) == 0


def test_a_model_from_before_post_processing_keeps_its_threshold_and_plain_vectorising(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"format": "scarp-model/1", "threshold": 0.37}))
    assert model_postprocess(model) == Postprocess(threshold=0.37, opening=1, closing=1)


def test_bad_post_processing_settings_are_refused():
    with pytest.raises(MlcoreError, match="threshold"):
        Postprocess(threshold=1.5).validate()
    with pytest.raises(MlcoreError, match="negative"):
        Postprocess(min_area_m2=-1).validate()


def test_two_scars_joined_by_a_narrow_neck_become_two_polygons_but_a_spur_stays(tmp_path):
    data = np.zeros((80, 140), np.uint8)
    data[10:70, 10:60] = 220  # 3000 m2
    data[10:70, 80:130] = 220  # 3000 m2
    data[35:41, 60:80] = 220  # a 6 m wide neck between them
    data[40:44, 130:136] = 220  # a 4 x 6 m spur off the second
    path = prob_map(tmp_path / "prob.tif", data)

    whole = Postprocess(opening=0, closing=0, min_area_m2=100).polygons(path)
    split = Postprocess(opening=0, closing=0, min_area_m2=100, neck_px=4).polygons(path)

    assert len(whole) == 1
    assert len(split) == 2
    assert sorted(split["area_m2"]) == pytest.approx([3000 + 60, 3000 + 60 + 24], abs=70)
    assert shapely.union_all(split.geometry).equals(whole.geometry.iloc[0])
