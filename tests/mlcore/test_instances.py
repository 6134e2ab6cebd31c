"""Mask R-CNN outlines: instance targets, merging across chips, touching landslides kept apart."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
import torch

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.errors import MlcoreError
from mlcore.infer import predict_scene
from mlcore.instance_predict import Detection, merge_detections, predict_instances
from mlcore.instances import instance_targets, train_instances
from mlcore.models import ModelConfig
from mlcore.train import TrainConfig, train
from tests.factories.change_scenes import make_one_pair_scene, make_touching_scene
from tests.factories.rasters import UTM47N

torch.set_num_threads(1)  # two threads on a shared 2-core machine run 10x slower, not faster


def _config(**changes) -> TrainConfig:
    model = ModelConfig(
        arch="maskrcnn", encoder="none", in_channels=3, encoder_depth=3, base_channels=16
    )
    settings = dict(
        model=model,
        epochs=2,
        batch_size=4,
        chip_size=64,
        lr=2e-3,
        chips_per_epoch=96,
        positive_fraction=0.8,
        early_stopping_patience=None,
        num_workers=0,
        device="cpu",
    )
    return TrainConfig(**{**settings, **changes})


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


def test_two_touching_landslides_come_out_as_two_polygons(tmp_path):
    seen = make_touching_scene(tmp_path / "train", seed=0)
    scenes = label_scenes(
        [SceneSpec([seen.image])], [read_vector(seen.landslides)], [read_vector(seen.extents)]
    )
    result = train_instances(_config(), scenes, scenes, tmp_path / "model")
    assert result.epochs_run == 2 and (tmp_path / "model" / "best.pt").exists()

    pair = make_one_pair_scene(tmp_path / "pair", seed=3)
    first, second = pair.shapes
    assert shapely.union(first, second).geom_type == "Polygon"  # they touch: one blob of pixels
    found = predict_instances(tmp_path / "model", [pair.image], polygons_path=tmp_path / "p.gpkg")

    assert len(found) == 2
    outlines = found.to_crs(UTM47N).geometry.tolist()
    ious = np.array([[_iou(p, r) for r in (first, second)] for p in outlines])
    assert sorted(ious.argmax(axis=1).tolist()) == [0, 1]  # one polygon for each landslide
    assert ious.max(axis=1).min() > 0.5
    assert (found["score"] > 0.5).all() and (tmp_path / "p.gpkg").exists()

    # The same model also answers the semantic path that reports and review use.
    semantic = predict_scene(tmp_path / "model", [pair.image], tmp_path / "prob.tif")
    with rasterio.open(semantic.probability_path) as src:
        assert src.read(1)[pair.mask == 1].mean() > 0.5 * 254
