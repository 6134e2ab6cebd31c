import json

import numpy as np
import pytest
import shapely
import torch
from scipy import ndimage

from mlcore.data import InputSpec, SceneSpec, label_scenes, read_vector
from mlcore.data.bands import BandRange
from mlcore.data.model_input import BandMismatch
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import save_checkpoint
from mlcore.modeldir.directory import BEST, CONFIG, FORMAT, write_json
from mlcore.models.registry import ModelConfig, build_model
from mlcore.predict.predictor import (
    InferenceConfig,
    PredictionCancelled,
    Predictor,
    merge_blocks,
    plan_blocks,
    predict_block,
)
from mlcore.predict.probability_raster import NODATA, SCALE
from mlcore.predict.scene import predict_scene
from mlcore.predict.tiling import Block, chip_starts, plan_grid
from mlcore.predict.vectorize import vectorize
from mlcore.raster.geotiff import is_valid_cog, open_geotiff
from mlcore.training.segmentation import TrainConfig, train
from tests.factories.landslide_scenes import make_scene

BANDS = ("red", "green", "blue", "dem")


pytestmark = pytest.mark.usefixtures("two_threads")


def write_model_dir(
    path, *, logit_bias: float | None = None, chip_size: int = 64, weight_std: float | None = None
):
    """A model directory in training's format, from an untrained tiny U-Net.

    With `logit_bias`, the head's bias is set so that the model calls every
    valid pixel a landslide (bias > 0) or none (bias < 0), whatever it sees.
    With `weight_std`, every weight is drawn that wide, so the map varies with the input.
    """
    torch.manual_seed(0)
    model_config = ModelConfig(arch="unet", encoder="none", in_channels=4, encoder_depth=1)
    model_config = ModelConfig(**{**model_config.to_dict(), "base_channels": 4})
    model = build_model(model_config)
    if weight_std is not None:
        with torch.no_grad():
            for weight in model.parameters():
                weight.normal_(0.0, weight_std)
    if logit_bias is not None:
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.fill_(logit_bias)
    spec = InputSpec(BANDS, (), tuple(BandRange(b, 0.0, 255.0) for b in BANDS[:3]))
    spec = InputSpec(BANDS, (), (*spec.ranges, BandRange("dem", 2900.0, 3100.0)))
    path.mkdir(parents=True, exist_ok=True)
    sha = save_checkpoint({"format": FORMAT, "epoch": 1, "model": model.state_dict()}, path / BEST)
    write_json(
        path / CONFIG,
        {
            "format": FORMAT,
            "model": model_config.to_dict(),
            "input": spec.to_dict(),
            "chip_size": chip_size,
            "threshold": 0.5,
            "best_epoch": 1,
            "checkpoint": {"file": BEST, "sha256": sha},
            "metrics": {},
            "scenes": {"train": ["image.tif,dem.tif"]},
        },
    )
    return path


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A tiny U-Net trained with mlcore.training.trainer on generated scars (10-40 s on 2 cores)."""
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("trained")
    scene = make_scene(root / "scene", size=256, blobs=14, seed=1)
    labelled = label_scenes(
        [SceneSpec([scene.image, scene.dem])],
        [read_vector(scene.landslides)],
        [read_vector(scene.extents)],
    )
    config = TrainConfig(
        model=ModelConfig(
            arch="unet", encoder="none", in_channels=4, encoder_depth=2, base_channels=8
        ),
        epochs=2,
        batch_size=8,
        chip_size=64,
        chips_per_epoch=64,
        lr=3e-3,
        num_workers=0,
        device="cpu",
        early_stopping_patience=None,
    )
    train(config, labelled, labelled, root / "model")
    return root / "model"


def read_prob(path) -> np.ndarray:
    with open_geotiff(path) as ds:
        return ds.read(1)


@pytest.mark.slow
def test_a_model_trained_on_generated_scars_finds_them_in_a_larger_scene(trained_model, tmp_path):
    scene = make_scene(tmp_path / "scene", size=512, blobs=40, seed=7)

    result = predict_scene(
        trained_model,
        [scene.image, scene.dem],
        tmp_path / "prob.tif",
        polygons_path=tmp_path / "slides.gpkg",
        config=InferenceConfig(block_size=192),
    )

    stored = read_prob(result.probability_path)
    predicted = (stored >= np.ceil(result.threshold * SCALE)) & (stored != NODATA)
    truth = scene.mask.astype(bool)
    f1 = 2 * (predicted & truth).sum() / (predicted.sum() + truth.sum())
    assert f1 > 0.7
    assert is_valid_cog(result.probability_path)
    objects = ndimage.label(truth)[1]
    assert objects >= 8 and abs(len(result.polygons) - objects) <= objects * 0.3
    assert result.polygons["mean_prob"].min() >= result.threshold - 0.05


@pytest.mark.slow
def test_blended_chips_match_a_whole_image_pass(trained_model, tmp_path):
    scene = make_scene(tmp_path / "scene", size=256, blobs=20, seed=8)
    paths = [scene.image, scene.dem]

    def run(name: str, chip: int, overlap: int) -> np.ndarray:
        config = InferenceConfig(chip_size=chip, overlap=overlap)
        return (
            read_prob(
                predict_scene(trained_model, paths, tmp_path / name, config=config).probability_path
            ).astype(np.float32)
            / SCALE
        )

    whole = run("whole.tif", 256, 0)
    blended = run("blended.tif", 32, 16)
    stitched = run("stitched.tif", 32, 0)

    blend_error = np.abs(blended - whole)
    assert blend_error.mean() < 0.01
    assert np.quantile(blend_error, 0.999) < 0.1
    assert blend_error.mean() < 0.5 * np.abs(stitched - whole).mean()


@pytest.mark.slow
def test_a_split_run_equals_a_single_run(trained_model, tmp_path):
    scene = make_scene(tmp_path / "scene", size=320, blobs=24, seed=9)
    paths = [scene.image, scene.dem]
    config = InferenceConfig(block_size=128)

    single = predict_scene(
        trained_model,
        paths,
        tmp_path / "single.tif",
        polygons_path=tmp_path / "single.gpkg",
        config=config,
    )
    blocks = plan_blocks(trained_model, paths, config)
    travelled = [Block.from_dict(json.loads(json.dumps(b.to_dict()))) for b in blocks]
    block_files = [
        predict_block(trained_model, paths, block, tmp_path / "blocks", config=config)
        for block in reversed(travelled)
    ]
    merged = merge_blocks(block_files, paths, tmp_path / "merged.tif")

    assert len(blocks) == 9 and travelled == blocks
    # A single run reuses chips shared by two blocks, computed in other batches; CPUs
    # give the same bits here, but a kernel may round a batch differently elsewhere.
    difference = read_prob(merged).astype(int) - read_prob(single.probability_path)
    assert np.abs(difference).max() <= 1 and (difference == 0).mean() > 0.999
    assert is_valid_cog(merged)
    polygons = vectorize(merged, threshold=single.threshold, block_size=128)
    assert abs(len(polygons) - len(single.polygons)) <= 1
    assert polygons["area_m2"].sum() == pytest.approx(single.polygons["area_m2"].sum(), rel=0.01)
    one_block = predict_scene(trained_model, paths, tmp_path / "one.tif")
    difference = read_prob(one_block.probability_path).astype(int) - read_prob(merged)
    assert np.abs(difference).max() <= 1  # the block size changes nothing but batches


@pytest.mark.slow
def test_a_landslide_across_block_borders_comes_out_as_one_polygon(trained_model, tmp_path):
    scene = make_scene(tmp_path / "scene", size=256, blobs=20, seed=8)
    paths = [scene.image, scene.dem]

    def polygons(name: str, block_size: int):
        config = InferenceConfig(block_size=block_size)
        result = predict_scene(
            trained_model,
            paths,
            tmp_path / f"{name}.tif",
            polygons_path=tmp_path / f"{name}.gpkg",
            config=config,
        )
        return result.polygons

    small, whole = polygons("small", 64), polygons("whole", 4096)

    seams = shapely.union_all(
        [
            shapely.LineString([(500_000 + x, 3_449_000), (500_000 + x, 3_451_000)])
            for x in (64, 128, 192)
        ]
        + [
            shapely.LineString([(499_000, 3_450_000 - y), (501_000, 3_450_000 - y)])
            for y in (64, 128, 192)
        ]
    )
    assert small.geometry.intersects(seams).sum() >= 3
    assert len(small) == len(whole)
    assert np.allclose(np.sort(small["area_m2"]), np.sort(whole["area_m2"]), atol=2.0)


def test_nodata_areas_give_nodata_pixels_and_no_polygons(tmp_path):
    model = write_model_dir(tmp_path / "model", logit_bias=8.0)
    scene = make_scene(tmp_path / "scene", size=160, seed=2, nodata_rows=40)

    result = predict_scene(
        model,
        [scene.image, scene.dem],
        tmp_path / "prob.tif",
        polygons_path=tmp_path / "slides.gpkg",
        config=InferenceConfig(block_size=64),
    )

    stored = read_prob(result.probability_path)
    assert (stored[:40] == NODATA).all()
    assert (stored[40:] == SCALE).all()
    assert len(result.polygons) == 1
    polygon = result.polygons.geometry[0]
    assert polygon.bounds == (500_000.0, 3_449_840.0, 500_160.0, 3_449_960.0)


def test_scene_bands_that_differ_from_training_are_refused_before_anything_is_written(tmp_path):
    model = write_model_dir(tmp_path / "model")
    scene = make_scene(tmp_path / "scene", size=64, seed=3)

    with pytest.raises(
        BandMismatch, match=r"trained on 4 bands \(red, green, blue, dem\).*gives 3"
    ):
        predict_scene(model, [scene.image], tmp_path / "prob.tif")
    with pytest.raises(BandMismatch, match=r"gives 4 \(dem, red, green, blue\)"):
        predict_scene(model, [scene.dem, scene.image], tmp_path / "prob.tif")
    assert not (tmp_path / "prob.tif").exists()


def test_cuda_without_a_gpu_is_an_error_not_a_fallback(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    model = write_model_dir(tmp_path / "model")

    with pytest.raises(MlcoreError, match="no CUDA GPU"):
        Predictor(model, InferenceConfig(device="cuda"))


def test_bad_tiling_options_are_refused_with_the_reason(tmp_path):
    model = write_model_dir(tmp_path / "model")

    with pytest.raises(MlcoreError, match="multiple of 16"):
        Predictor(model, InferenceConfig(chip_size=50))
    with pytest.raises(MlcoreError, match="overlap must be from 0 to half"):
        Predictor(model, InferenceConfig(overlap=48))


def test_progress_is_reported_and_cancelling_leaves_no_file(tmp_path):
    model = write_model_dir(tmp_path / "model")
    scene = make_scene(tmp_path / "scene", size=128, seed=4)
    paths = [scene.image, scene.dem]
    seen = []

    predict_scene(
        model,
        paths,
        tmp_path / "prob.tif",
        config=InferenceConfig(block_size=64),
        on_progress=lambda fraction, message: seen.append((fraction, message)),
    )
    with pytest.raises(PredictionCancelled):
        predict_scene(
            model,
            paths,
            tmp_path / "out" / "cancelled.tif",
            polygons_path=tmp_path / "out" / "cancelled.gpkg",
            should_stop=lambda: True,
        )

    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "block 4/4 predicted" in [m for _, m in seen]
    assert list((tmp_path / "out").iterdir()) == []


def test_merging_refuses_missing_blocks_and_blocks_of_another_scene(tmp_path):
    model = write_model_dir(tmp_path / "model")
    here = make_scene(tmp_path / "here", size=128, seed=5)
    there = make_scene(tmp_path / "there", size=96, seed=6)
    config = InferenceConfig(block_size=64)

    def block_files(scene, name):
        paths = [scene.image, scene.dem]
        blocks = plan_blocks(model, paths, config)
        return [predict_block(model, paths, b, tmp_path / name, config=config) for b in blocks]

    ours, theirs = block_files(here, "ours"), block_files(there, "theirs")

    with pytest.raises(MlcoreError, match="Blocks 3 of the plan of 4 are missing"):
        merge_blocks(ours[:3], [here.image, here.dem], tmp_path / "merged.tif")
    with pytest.raises(MlcoreError, match="predicted on another scene"):
        merge_blocks(theirs, [here.image, here.dem], tmp_path / "merged.tif")
    assert not (tmp_path / "merged.tif").exists()


def test_block_chips_stay_inside_the_scene_and_cover_every_core_pixel():
    blocks = plan_grid(300, 170, chip_size=64, overlap=16, block_size=128)
    covered = np.zeros((170, 300), int)

    for block in blocks:
        chips = np.array(block.chips())
        assert chips.min() >= 0
        assert (chips[:, 0] + 64 <= 170).all() and (chips[:, 1] + 64 <= 300).all()
        seen = np.zeros((170, 300), bool)
        for r, c in chips:
            seen[r : r + 64, c : c + 64] = True
        core = seen[block.row : block.row + block.height, block.col : block.col + block.width]
        assert core.all()
        covered[block.row : block.row + block.height, block.col : block.col + block.width] += 1

    assert (covered == 1).all()
    assert chip_starts(40, 64, 48) == [0]  # a scene smaller than a chip: one padded chip


def _mirrored(paths, directory):
    """The scene's rasters mirrored left-right, on the same grid."""
    import rasterio

    directory.mkdir()
    out = []
    for path in paths:
        with rasterio.open(path) as src:
            profile, data = src.profile, src.read()
        target = directory / path.name
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(data[:, :, ::-1])
        out.append(target)
    return out


@pytest.mark.parametrize("recorded, asked", [(True, None), (False, True)])
def test_with_flips_a_mirrored_scene_maps_to_the_mirrored_map(tmp_path, recorded, asked):
    """Test-time flips average a chip's four mirror images, so the map no longer depends
    on which way the scene faces; the model directory's recipe turns them on, or the call."""
    model = write_model_dir(tmp_path / "model", weight_std=0.5)
    config = json.loads((model / CONFIG).read_text())
    write_json(model / CONFIG, {**config, "train": {"tta": recorded}})
    scene = make_scene(tmp_path / "scene", size=64, blobs=4, seed=3)
    paths = [scene.image, scene.dem]
    mirror = _mirrored(paths, tmp_path / "mirror")

    def maps(inference: InferenceConfig) -> tuple[np.ndarray, np.ndarray]:
        a = predict_scene(model, paths, tmp_path / "a.tif", config=inference).probability_path
        b = predict_scene(model, mirror, tmp_path / "b.tif", config=inference).probability_path
        return read_prob(a).astype(int), read_prob(b)[:, ::-1].astype(int)

    plain, mirrored_plain = maps(InferenceConfig(tta=False))
    assert np.abs(plain - mirrored_plain).max() > 2  # a network alone is not mirror-blind
    flipped, mirrored_flipped = maps(InferenceConfig(tta=asked))
    assert np.abs(flipped - mirrored_flipped).max() <= 1  # one step of the stored 0-254 scale
    assert np.abs(flipped - plain).max() > 0
