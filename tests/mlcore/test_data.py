"""Chips: stacked scenes, labels across CRSs, split-safe sampling, ignore masks, augmentation."""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pytest
import shapely
import torch
from rasterio.windows import Window

from mlcore.data import (
    ChipDataset,
    ChipRef,
    ChipSampler,
    InputSpec,
    LabelError,
    SceneError,
    SceneSpec,
    SplitGrid,
    StackedScene,
    augment,
    compute_input_spec,
    grid_refs,
    label_scenes,
    read_vector,
)
from mlcore.training.losses import IGNORE
from tests.factories.landslide_scenes import ORIGIN, make_scene
from tests.factories.rasters import UTM47N, write_geotiff

torch.set_num_threads(1)
CHIP = 64


@pytest.fixture
def synthetic(tmp_path):
    return make_scene(tmp_path / "scene", nodata_rows=10, dem_resolution=2.0)


@pytest.fixture
def labelled(synthetic):
    spec = SceneSpec([synthetic.image, synthetic.dem])
    frames = [read_vector(synthetic.landslides)], [read_vector(synthetic.extents)]
    return label_scenes([spec], *frames)


def _grid(labelled_scene, split, chip=CHIP):
    with StackedScene(labelled_scene.scene) as scene:
        return SplitGrid(
            labelled_scene,
            split,
            transform=scene.transform,
            width=scene.width,
            height=scene.height,
            chip_size=chip,
        )


def _dataset(labelled, split="train", augment=False):
    with StackedScene(labelled[0].scene) as scene:
        spec = compute_input_spec([scene])
    return ChipDataset(labelled, split, spec, CHIP, augment=augment)


def test_a_dem_on_another_grid_is_warped_onto_the_image_grid(synthetic):
    with StackedScene(SceneSpec([synthetic.image, synthetic.dem])) as scene:
        assert scene.band_names == ["red", "green", "blue", "dem"]
        assert (scene.width, scene.height) == (256, 256)
        data, valid = scene.read(Window(100, 100, 32, 32))
    assert data.shape == (4, 32, 32) and data.dtype == np.float32
    assert valid.all()
    # The DEM is a plane rising 0.4 m per metre eastwards: bilinear keeps that slope.
    assert np.median(np.diff(data[3], axis=1)) == pytest.approx(0.4, abs=0.05)


def test_nodata_in_any_band_marks_the_pixel_invalid(synthetic):
    with StackedScene(SceneSpec([synthetic.image, synthetic.dem])) as scene:
        _, valid = scene.read(Window(0, 0, 32, 32))
    assert not valid[:10].any() and valid[10:].all()


def test_band_names_come_from_descriptions_or_the_file_stem(tmp_path):
    a = write_geotiff(tmp_path / "post.tif", np.ones((2, 8, 8), np.uint8))
    b = write_geotiff(tmp_path / "slope.tif", np.ones((8, 8), np.float32))
    with StackedScene(SceneSpec([a, b, b])) as scene:
        assert scene.band_names == ["post_1", "post_2", "slope", "slope_2"]


def test_a_raster_without_crs_is_refused(tmp_path):
    path = write_geotiff(tmp_path / "nocrs.tif", np.ones((8, 8), np.uint8), crs=None)
    with pytest.raises(SceneError, match="no coordinate reference system"):
        StackedScene(SceneSpec([path]))


def test_labels_in_another_crs_land_on_the_right_pixels(synthetic, labelled):
    dataset = _dataset(labelled, "validation")
    for row, col in [(40, 150), (120, 140), (180, 170)]:
        _, target = dataset.read(ChipRef(0, row, col))
        expected = synthetic.mask[row : row + CHIP, col : col + CHIP]
        labelled_px = target != IGNORE
        agree = (target[labelled_px] == expected[labelled_px]).mean()
        assert agree > 0.995
    dataset.close()


def test_pixels_outside_the_split_extent_or_under_nodata_are_ignored(labelled):
    dataset = _dataset(labelled, "train")
    _, target = dataset.read(ChipRef(0, 0, 100))  # straddles the train/validation edge
    dataset.close()
    # Train extent ends 2 px left of the middle (x=128): columns >= 126 are outside it.
    assert (target[:, 126 - 100 :] == IGNORE).all()
    assert (target[:10, : 126 - 100] == IGNORE).all()  # nodata rows
    assert (target[10:, : 126 - 100] != IGNORE).all()


def _assert_no_chip_crosses_splits(labelled_scene):
    for split in ("train", "validation"):
        grid = _grid(labelled_scene, split)
        foreign = shapely.union_all(labelled_scene.others_than(split))
        refs = ChipSampler([grid], 400, seed=1).refs(0) if split == "train" else []
        refs += grid_refs([grid], stride=16)
        assert refs
        with StackedScene(labelled_scene.scene) as scene:
            for ref in refs:
                x0, y1 = scene.transform @ (ref.col, ref.row)
                box = shapely.box(x0, y1 - CHIP, x0 + CHIP, y1)  # 1 m pixels
                assert not box.intersects(foreign), (split, ref)
                assert box.intersects(shapely.union_all(labelled_scene.extents[split]))


def test_chips_never_cross_splits(labelled):
    _assert_no_chip_crosses_splits(labelled[0])


def test_chips_never_cross_irregular_splits(synthetic):
    x0, y1 = ORIGIN
    train_area = shapely.Point(x0 + 80, y1 - 128).buffer(75, quad_segs=3)
    val_area = shapely.Point(x0 + 200, y1 - 120).buffer(50, quad_segs=2)
    extents = gpd.GeoDataFrame(
        {"split": ["train", "validation"]}, geometry=[train_area, val_area], crs=UTM47N
    )
    (scene,) = label_scenes(
        [SceneSpec([synthetic.image])], [read_vector(synthetic.landslides)], [extents]
    )
    _assert_no_chip_crosses_splits(scene)


def test_training_chips_cover_the_train_extent_up_to_its_edge(labelled):
    refs = ChipSampler([_grid(labelled[0], "train")], 500, seed=0).refs(0)
    cols = np.array([r.col for r in refs])
    assert cols.min() == 0 and cols.max() > 126 - CHIP - 16


def test_half_the_chips_are_centred_near_landslides(tmp_path):
    scene = make_scene(tmp_path / "rare", blobs=2, seed=3)
    labelled = label_scenes(
        [SceneSpec([scene.image])], [read_vector(scene.landslides)], [read_vector(scene.extents)]
    )
    grid = _grid(labelled[0], "train", chip=32)
    share = []
    for fraction in (0.0, 0.5):
        refs = ChipSampler([grid], 300, seed=0, positive_fraction=fraction).refs(0)
        share.append(
            np.mean([scene.mask[r.row : r.row + 32, r.col : r.col + 32].any() for r in refs])
        )
    assert share[1] > 0.5 > share[0]


def test_the_chips_of_an_epoch_depend_only_on_seed_and_epoch(labelled):
    grid = _grid(labelled[0], "train")
    sampler = ChipSampler([grid], 20, seed=7)
    assert sampler.refs(3) == ChipSampler([grid], 20, seed=7).refs(3)
    assert sampler.refs(3) != sampler.refs(4)
    sampler.set_epoch(3, start=15)
    assert list(sampler) == sampler.refs(3)[15:] and len(sampler) == 5


def test_normalisation_maps_the_2nd_to_98th_percentile_to_0_1(labelled):
    with StackedScene(labelled[0].scene) as scene:
        spec = compute_input_spec([scene])
        raw, valid = scene.read(Window(0, 0, 256, 256))
    prepared = spec.prepare(raw, valid, (1.0, 1.0))
    inside = prepared[:, valid]
    assert np.all(np.abs(np.percentile(inside, [2, 98], axis=1) - [[0], [1]]) < 0.05)
    assert (prepared[:, ~valid] == 0).all()
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_statistics_of_a_scene_without_overviews_come_from_sampled_windows(labelled):
    with StackedScene(labelled[0].scene) as scene:
        assert not scene.has_overviews
        whole = compute_input_spec([scene])
        sampled = compute_input_spec([scene], max_side=16)  # too big to decimate: windows
    for a, b in zip(whole.ranges, sampled.ranges, strict=True):
        assert abs(a.low - b.low) < 0.1 * (a.high - a.low)
        assert abs(a.high - b.high) < 0.1 * (a.high - a.low)


def test_slope_is_derived_from_the_dem_in_degrees(synthetic):
    with StackedScene(SceneSpec([synthetic.image, synthetic.dem])) as scene:
        spec = compute_input_spec([scene], derived=["slope"])
        raw, valid = scene.read(Window(20, 20, 16, 16))
    assert spec.channels == ["red", "green", "blue", "dem", "slope"]
    slope = spec.prepare(raw, valid, (1.0, 1.0))[4] * 90  # slope's range is 0..90 degrees
    expected = np.degrees(np.arctan(np.hypot(0.4, 0.2)))
    assert np.median(slope) == pytest.approx(expected, abs=2.0)


def test_ndvi_needs_red_and_nir(synthetic):
    with (
        StackedScene(SceneSpec([synthetic.image])) as scene,
        pytest.raises(SceneError, match="nir"),
    ):
        compute_input_spec([scene], derived=["ndvi"])


def test_augmentation_keeps_image_and_target_aligned():
    rng = np.random.default_rng(0)
    target = (rng.random((16, 16)) > 0.5).astype(np.uint8)
    image = np.stack([target.astype(np.float32), target * 2.0]).astype(np.float32)
    for seed in range(8):
        out, out_target = augment(
            image, target, np.random.default_rng(seed), np.array([False, True])
        )
        assert np.array_equal(out[0], out_target)  # a terrain-like band: untouched
        assert out[1][out_target == 1].min() > out[1][out_target == 0].max()
        assert not np.allclose(out[1], out_target * 2.0)  # jittered


def test_the_dataset_pickles_without_open_rasters_and_reads_in_workers(labelled):
    dataset = _dataset(labelled, "validation")
    refs = grid_refs([_grid(labelled[0], "validation")], stride=CHIP)
    dataset.read(refs[0])
    assert pickle.loads(pickle.dumps(dataset))._opened == {}
    single = [t for _, t in torch.utils.data.DataLoader(dataset, batch_size=2, sampler=refs)]
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=refs, num_workers=2)
    assert all(torch.equal(a, b) for a, b in zip(single, (t for _, t in loader), strict=True))
    dataset.close()


def test_extents_without_a_split_column_are_refused(synthetic, tmp_path):
    frame = read_vector(synthetic.extents).drop(columns="split")
    with pytest.raises(LabelError, match="no 'split' column"):
        label_scenes([SceneSpec([synthetic.image])], [], [frame])


def test_unknown_split_values_are_refused(synthetic):
    frame = read_vector(synthetic.extents)
    frame["split"] = ["train", "holdout"]
    with pytest.raises(LabelError, match="holdout"):
        label_scenes([SceneSpec([synthetic.image])], [], [frame])


def test_a_vector_file_without_crs_is_refused(tmp_path):
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"split": ["train"]}, geometry=[shapely.box(*ORIGIN, 1, 1)]).to_file(path)
    with pytest.raises(LabelError, match="no coordinate reference system"):
        read_vector(path)


def test_labels_off_the_scene_are_dropped(synthetic):
    far = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 10, 10)], crs=UTM47N)
    extents = read_vector(synthetic.extents)
    (scene,) = label_scenes([SceneSpec([synthetic.image])], [far], [extents])
    assert scene.landslides == [] and set(scene.extents) == {"train", "validation"}
