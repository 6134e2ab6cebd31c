"""Mask R-CNN outlines: instance targets, merging across chips, touching landslides kept apart."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
import torch
from rasterio.features import rasterize
from rasterio.windows import Window

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.errors import MlcoreError
from mlcore.predict.instances import Detection, merge_detections, predict_instances
from mlcore.predict.predictor import InferenceConfig
from mlcore.predict.scene import predict_scene
from mlcore.raster.geotiff import is_valid_cog
from mlcore.training.instances import instance_targets
from mlcore.training.segmentation import train
from tests.factories.change_scenes import make_one_pair_scene, make_touching_scene
from tests.factories.instance_model import tiny_maskrcnn_config as _config
from tests.factories.rasters import UTM47N

torch.set_num_threads(1)  # two threads on a shared 2-core machine run 10x slower, not faster


def test_each_instance_becomes_one_mask_and_one_box():
    ids = torch.zeros((2, 16, 16), dtype=torch.int64)
    ids[0, 2:5, 3:9] = 1
    ids[0, 5:10, 3:9] = 2  # touching the first
    ids[0, 15, 15] = 3  # one pixel: too small to teach anything
    targets = instance_targets(ids)
    assert targets[0]["boxes"].tolist() == [[3, 2, 9, 5], [3, 5, 9, 10]]
    assert targets[0]["masks"].shape == (2, 16, 16) and targets[0]["labels"].tolist() == [1, 1]
    assert targets[1]["boxes"].shape == (0, 4)


def test_merging_drops_chip_overlap_duplicates_and_keeps_touching_neighbours():
    left, right = shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)
    detections = [
        Detection(left, 0.9, cut=False),
        Detection(right, 0.8, cut=False),
        Detection(shapely.box(0, 0, 6, 10), 0.95, cut=True),  # left, cut by a chip border
        Detection(shapely.box(10.5, 0, 20, 10), 0.7, cut=False),  # right, seen by a second chip
    ]
    kept = merge_detections(detections)
    assert [(d.geometry, d.score) for d in kept] == [(left, 0.9), (right, 0.8)]


def test_segmentation_training_refuses_mask_rcnn_with_the_way_to_train_it(tmp_path):
    scene = make_touching_scene(tmp_path / "scene", size=160)
    scenes = label_scenes(
        [SceneSpec([scene.image])], [read_vector(scene.landslides)], [read_vector(scene.extents)]
    )
    with pytest.raises(MlcoreError, match="train_instances"):
        train(_config(epochs=1, chips_per_epoch=4), scenes, scenes, tmp_path / "model")


def _iou(a, b) -> float:
    return shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))


def _one_per_landslide(found, pair) -> None:
    outlines = found.to_crs(UTM47N).geometry.tolist()
    ious = np.array([[_iou(p, r) for r in pair.shapes] for p in outlines])
    assert sorted(ious.argmax(axis=1).tolist()) == [0, 1]  # one polygon for each landslide
    assert ious.max(axis=1).min() > 0.5


def test_two_touching_landslides_come_out_as_two_polygons(tmp_path, tiny_maskrcnn):
    assert tiny_maskrcnn.epochs_run == 2 and (tiny_maskrcnn.out_dir / "best.pt").exists()
    pair = make_one_pair_scene(tmp_path / "pair", seed=3)
    first, second = pair.shapes
    assert shapely.union(first, second).geom_type == "Polygon"  # they touch: one blob of pixels
    found = predict_instances(
        tiny_maskrcnn.out_dir, [pair.image], polygons_path=tmp_path / "p.gpkg"
    )

    assert len(found) == 2
    _one_per_landslide(found, pair)
    assert (found["score"] > 0.5).all() and (tmp_path / "p.gpkg").exists()


def test_predict_scene_gives_an_instance_models_polygons_and_burns_their_scores(
    tmp_path, tiny_maskrcnn
):
    pair = make_one_pair_scene(tmp_path / "pair", seed=3)
    with rasterio.open(pair.image, "r+") as dst:  # a nodata strip along the top
        dst.write(np.zeros((3, 8, 96), np.uint8), window=Window(0, 0, 96, 8))

    result = predict_scene(
        tiny_maskrcnn.out_dir,
        [pair.image],
        tmp_path / "prob.tif",
        config=InferenceConfig(block_size=64),  # four blocks; the pair reaches across a border
        threshold=0.5,
    )

    assert result.blocks == 4 and result.threshold == 0.5
    found = result.polygons  # returned without polygons_path: they are not in the raster
    assert len(found) == 2 and result.polygons_path is None
    assert list(found.columns) == ["area_m2", "mean_prob", "max_prob", "score", "geometry"]
    assert (found["score"] > 0.5).all() and (found["mean_prob"] == found["score"]).all()
    _one_per_landslide(found, pair)
    assert is_valid_cog(result.probability_path)
    with rasterio.open(result.probability_path) as src, rasterio.open(pair.image) as scene:
        assert (src.dtypes[0], src.nodata, src.crs) == ("uint8", 255, scene.crs)
        assert (src.transform, src.shape) == (scene.transform, scene.shape)
        stored, grid = src.read(1), src.transform
    assert (stored[:8] == 255).all() and (stored[8:] != 255).all()
    # Each landslide holds its own score (the higher one where two overlap); the ground 0.
    anywhere = np.zeros(stored.shape, bool)
    for geom, score in zip(found.geometry, found["score"], strict=True):
        inside = rasterize([(geom, 1)], out_shape=stored.shape, transform=grid) == 1
        byte = np.rint(np.float32(score) * 254)
        assert inside.any() and (stored[inside] >= byte).all()
        assert np.median(stored[inside]) == byte
        anywhere |= inside
    anywhere[:8] = True  # nodata, checked above
    assert (stored[~anywhere] == 0).all()


def test_a_block_of_an_instance_model_is_refused(tmp_path, tiny_maskrcnn):
    """Blocks predicted apart would cut landslides at their borders: only whole scenes."""
    from mlcore.predict.predictor import plan_blocks, predict_block

    pair = make_one_pair_scene(tmp_path / "pair", seed=3)
    (block, *_) = plan_blocks(tiny_maskrcnn.out_dir, [pair.image], InferenceConfig(block_size=64))
    with pytest.raises(MlcoreError, match="predicts a scene whole"):
        predict_block(tiny_maskrcnn.out_dir, [pair.image], block, tmp_path / "blocks")
    assert not (tmp_path / "blocks").exists()
