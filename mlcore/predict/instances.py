"""Per-landslide polygons with scores from a Mask R-CNN model directory.

The scene is read in the blocks and chips of `mlcore.predict.predictor` (same lattice,
same preparation); each chip is detected once. A landslide near a chip
border is seen by two or more overlapping chips, cut short in some, so the
detections are merged: taken whole-in-their-chip first, then by score, a
detection is dropped when most of it (`shared` of the smaller one's area)
lies under one already kept. Touching landslides share a boundary, not an
area, so both stay.

`predict_instance_scene` is what `mlcore.predict.scene.predict_scene` runs for such a
model: the polygons come from the detections, and the probability COG burns
each landslide's score, so both answer like a segmentation model's output.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import torch
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize, shapes
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from mlcore.data.scenes import StackedScene
from mlcore.errors import MlcoreError
from mlcore.modeldir.directory import read_config
from mlcore.models.mask_rcnn import LandslideMaskRCNN
from mlcore.predict.predictor import (
    _GDAL_CACHE_MB,
    InferenceConfig,
    PredictionCancelled,
    Predictor,
    PredictResult,
    ProgressCallback,
    StopCallback,
)
from mlcore.predict.probability_raster import encode, probability_writer
from mlcore.predict.tiling import Block
from mlcore.predict.vectorize import areas_m2, write_polygons_gpkg

__all__ = ["Detection", "merge_detections", "predict_instance_scene", "predict_instances"]

# Shares of the progress bar: detecting, then burning scores into the COG.
_DETECT_SHARE = 0.9


@dataclass
class Detection:
    """One landslide seen in one chip; `cut` when its mask reaches an inner chip border."""

    geometry: shapely.Geometry
    score: float
    cut: bool


def merge_detections(detections: Sequence[Detection], shared: float = 0.5) -> list[Detection]:
    """Keep one detection per landslide: whole ones first, then by score (see module doc)."""
    order = sorted(range(len(detections)), key=lambda i: (detections[i].cut, -detections[i].score))
    geoms = np.array([d.geometry for d in detections], dtype=object)
    areas = shapely.area(geoms)
    tree = shapely.STRtree(geoms)
    dropped = np.zeros(len(detections), dtype=bool)
    kept = []
    for i in order:
        if dropped[i]:
            continue
        kept.append(detections[i])
        dropped[i] = True
        others = np.array([j for j in tree.query(geoms[i]) if not dropped[j]], dtype=np.intp)
        if not len(others):
            continue
        common = shapely.area(shapely.intersection(geoms[i], geoms[others]))
        smaller = np.minimum(areas[i], areas[others])
        dropped[others[common > shared * np.maximum(smaller, 1e-12)]] = True
    return kept


def _outline(mask: np.ndarray, transform: Affine) -> shapely.Geometry | None:
    """The mask's largest 4-connected part as a map polygon (None when the mask is empty)."""
    parts = [
        shapely.geometry.shape(g)
        for g, _ in shapes(mask.astype(np.uint8), mask=mask, connectivity=4, transform=transform)
    ]
    return max(parts, key=lambda g: g.area) if parts else None


def _chip_detections(
    model: LandslideMaskRCNN,
    batch: torch.Tensor,
    origins: list[tuple[int, int]],
    valid: list[np.ndarray],
    scene: dict,
    score_threshold: float,
    mask_threshold: float,
) -> list[Detection]:
    found = []
    size = batch.shape[-1]
    for det, (row, col), ok in zip(model.detect(batch), origins, valid, strict=True):
        keep = det["scores"] >= score_threshold
        masks = (det["masks"][keep, 0] >= mask_threshold).cpu().numpy() & ok
        affine = scene["transform"] * Affine.translation(col, row)
        # A chip border is "inner" unless it is the scene's edge.
        inner = (row > 0, col + size < scene["width"], row + size < scene["height"], col > 0)
        for mask, score in zip(masks, det["scores"][keep].tolist(), strict=True):
            geom = _outline(mask, affine)
            if geom is None:
                continue
            edges = (mask[0].any(), mask[:, -1].any(), mask[-1].any(), mask[:, 0].any())
            cut = any(e and i for e, i in zip(edges, inner, strict=True))
            found.append(Detection(geom, float(score), cut))
    return found


def instance_config(model_dir: str | Path, config: InferenceConfig | None) -> InferenceConfig:
    """`config` with chips overlapping by half unless it sets the overlap.

    A landslide is outlined whole only where some chip holds it whole; the
    quarter-chip overlap that suffices for blending masks cuts too many.
    """
    config = config or InferenceConfig()
    if config.overlap is not None:
        return config
    chip = config.chip_size or int(read_config(model_dir)["chip_size"])
    return replace(config, overlap=chip // 2)


@torch.inference_mode()
def predict_instances(
    model_dir: str | Path | Predictor,
    scene_paths: Sequence[str | Path],
    *,
    polygons_path: str | Path | None = None,
    config: InferenceConfig | None = None,
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
    shared: float = 0.5,
    min_area_m2: float = 0.0,
    expected_sha256: str | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> gpd.GeoDataFrame:
    """Landslide polygons (columns score, area_m2) in the scene's CRS, one per landslide.

    A landslide is outlined whole only where some chip holds it whole, so
    chips overlap by half (unless `config` sets the overlap). With
    `polygons_path`, the polygons are also written as a GeoPackage, whole or
    not at all. Pass a Predictor (built with `instance_config`) to reuse a
    loaded model; `config` and `expected_sha256` are then its own.
    """
    if not 0 < score_threshold < 1 or not 0 < mask_threshold < 1 or not 0 < shared <= 1:
        raise MlcoreError("Score and mask thresholds lie between 0 and 1, `shared` in (0, 1].")
    if isinstance(model_dir, Predictor):
        predictor = model_dir
    else:
        config = instance_config(model_dir, config)
        predictor = Predictor(model_dir, config, expected_sha256=expected_sha256)
    report = on_progress or (lambda fraction, message: None)
    if not isinstance(predictor.model, LandslideMaskRCNN):
        raise MlcoreError(
            f"{predictor.model_dir} holds a {predictor.model_config['model']['arch']} model, "
            "which draws one mask, not instances; predict it with predict_scene, or train "
            "arch 'maskrcnn'."
        )
    detections: list[Detection] = []
    seen: set[tuple[int, int]] = set()
    with predictor.open_scene(scene_paths) as scene:
        grid = {"transform": scene.transform, "width": scene.width, "height": scene.height}
        crs = CRS.from_user_input(scene.crs)
        blocks = predictor.plan(scene)
        for i, block in enumerate(blocks):
            region = predictor.read(scene, block)
            r_off, c_off = int(region.window.row_off), int(region.window.col_off)
            size = block.chip_size
            chips = []
            for r, c in block.chips():
                window = (slice(r - r_off, r - r_off + size), slice(c - c_off, c - c_off + size))
                if (r, c) not in seen and region.valid[window].any():
                    seen.add((r, c))
                    chips.append(((r, c), window))
            x = torch.from_numpy(region.x).to(predictor.device)
            for start in range(0, len(chips), predictor.config.batch_size):
                if should_stop and should_stop():
                    raise PredictionCancelled("Prediction was cancelled; nothing was written.")
                part = chips[start : start + predictor.config.batch_size]
                batch = torch.stack([x[:, w[0], w[1]] for _, w in part])
                detections += _chip_detections(
                    predictor.model,
                    batch,
                    [origin for origin, _ in part],
                    [region.valid[w] for _, w in part],
                    grid,
                    score_threshold,
                    mask_threshold,
                )
            report((i + 1) / len(blocks), f"block {i + 1}/{len(blocks)} searched for landslides")
    kept = merge_detections(detections, shared) if detections else []
    geoms = np.array([d.geometry for d in kept], dtype=object)
    frame = gpd.GeoDataFrame(
        {"score": [d.score for d in kept], "area_m2": areas_m2(geoms, crs)},
        geometry=gpd.GeoSeries(geoms, crs=crs),
    )
    frame = frame[frame["area_m2"] >= min_area_m2].reset_index(drop=True)
    if polygons_path is not None:
        Path(polygons_path).parent.mkdir(parents=True, exist_ok=True)
        write_polygons_gpkg(frame, Path(polygons_path))
    return frame


def predict_instance_scene(
    model_dir: str | Path,
    scene_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    polygons_path: str | Path | None = None,
    config: InferenceConfig | None = None,
    threshold: float | None = None,
    min_area_m2: float = 0.0,
    expected_sha256: str | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> PredictResult:
    """`mlcore.predict.scene.predict_scene` for a Mask R-CNN model: the same files and result.

    `threshold` is the score a detection needs (default: the model's
    threshold). The polygons are the detections (columns area_m2, mean_prob
    and max_prob, both the score, and score) and are returned even without
    `polygons_path`: vectorising the COG would join touching landslides
    again, so callers take these instead. The COG holds score x 254 inside
    each landslide (the best where two overlap), 0 elsewhere, 255 nodata.
    """
    started = time.monotonic()
    report = on_progress or (lambda fraction, message: None)
    predictor = Predictor(
        model_dir, instance_config(model_dir, config), expected_sha256=expected_sha256
    )
    threshold = predictor.threshold if threshold is None else threshold
    found = predict_instances(
        predictor,
        scene_paths,
        score_threshold=threshold,
        min_area_m2=min_area_m2,
        on_progress=lambda fraction, message: report(_DETECT_SHARE * fraction, message),
        should_stop=should_stop,
    )
    score = found["score"].to_numpy()
    polygons = gpd.GeoDataFrame(
        {"area_m2": found["area_m2"], "mean_prob": score, "max_prob": score, "score": score},
        geometry=found.geometry,
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB), predictor.open_scene(scene_paths) as scene:
        blocks = predictor.plan(scene)
        grid = {"width": scene.width, "height": scene.height}
        grid.update(crs=scene.crs, transform=scene.transform)
        with probability_writer(out_path, **grid) as dst:
            for i, block in enumerate(blocks):
                if should_stop and should_stop():
                    raise PredictionCancelled("Prediction was cancelled; nothing was written.")
                dst.write(_burn_scores(polygons, scene, block), 1, window=block.window)
                share = _DETECT_SHARE + (1 - _DETECT_SHARE) * (i + 1) / len(blocks)
                report(share, f"block {i + 1}/{len(blocks)} written")
    if polygons_path is not None:
        Path(polygons_path).parent.mkdir(parents=True, exist_ok=True)
        write_polygons_gpkg(polygons, Path(polygons_path))
    report(1.0, "done")
    return PredictResult(
        probability_path=out_path,
        polygons_path=Path(polygons_path) if polygons_path is not None else None,
        polygons=polygons,
        width=grid["width"],
        height=grid["height"],
        blocks=len(blocks),
        threshold=threshold,
        device=str(predictor.device),
        seconds=time.monotonic() - started,
    )


def _burn_scores(polygons: gpd.GeoDataFrame, scene: StackedScene, block: Block) -> np.ndarray:
    """The block's core as stored bytes: each landslide's score, 0 around, 255 where nodata."""
    _, valid = scene.read(block.window)
    hits = polygons.sindex.query(shapely.box(*window_bounds(block.window, scene.transform)))
    prob = np.zeros(valid.shape, dtype=np.float32)
    if len(hits):
        scores = polygons["score"].to_numpy()
        # Painted lowest first, so where two overlap the higher score stays.
        order = hits[np.argsort(scores[hits], kind="stable")]
        prob = rasterize(
            zip(polygons.geometry.to_numpy()[order], scores[order], strict=True),
            out_shape=valid.shape,
            transform=window_transform(block.window, scene.transform),
            fill=0.0,
            dtype="float32",
        )
    return encode(prob, valid)
