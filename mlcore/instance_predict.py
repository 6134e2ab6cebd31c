"""Per-landslide polygons with scores from a Mask R-CNN model directory.

The scene is read in the blocks and chips of `mlcore.infer` (same lattice,
same preparation); each chip is detected once. A landslide near a chip
border is seen by two or more overlapping chips, cut short in some, so the
detections are merged: taken whole-in-their-chip first, then by score, a
detection is dropped when most of it (`shared` of the smaller one's area)
lies under one already kept. Touching landslides share a boundary, not an
area, so both stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import torch
from affine import Affine
from pyproj import CRS
from rasterio.features import shapes

from mlcore.errors import MlcoreError
from mlcore.infer import InferenceConfig, PredictionCancelled, Predictor, StopCallback
from mlcore.instances import LandslideMaskRCNN
from mlcore.modeldir import read_config
from mlcore.vectorize import areas_m2, write_polygons_gpkg

__all__ = ["Detection", "merge_detections", "predict_instances"]


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


@torch.inference_mode()
def predict_instances(
    model_dir: str | Path,
    scene_paths: Sequence[str | Path],
    *,
    polygons_path: str | Path | None = None,
    config: InferenceConfig | None = None,
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
    shared: float = 0.5,
    min_area_m2: float = 0.0,
    expected_sha256: str | None = None,
    should_stop: StopCallback | None = None,
) -> gpd.GeoDataFrame:
    """Landslide polygons (columns score, area_m2) in the scene's CRS, one per landslide.

    A landslide is outlined whole only where some chip holds it whole, so
    chips overlap by half (unless `config` sets the overlap). With
    `polygons_path`, the polygons are also written as a GeoPackage, whole or
    not at all.
    """
    if not 0 < score_threshold < 1 or not 0 < mask_threshold < 1 or not 0 < shared <= 1:
        raise MlcoreError("Score and mask thresholds lie between 0 and 1, `shared` in (0, 1].")
    config = config or InferenceConfig()
    if config.overlap is None:
        chip = config.chip_size or int(read_config(model_dir)["chip_size"])
        config = replace(config, overlap=chip // 2)
    predictor = Predictor(model_dir, config, expected_sha256=expected_sha256)
    if not isinstance(predictor.model, LandslideMaskRCNN):
        raise MlcoreError(
            f"{model_dir} holds a {predictor.model_config['model']['arch']} model, which draws "
            "one mask, not instances; predict it with predict_scene, or train arch 'maskrcnn'."
        )
    detections: list[Detection] = []
    seen: set[tuple[int, int]] = set()
    with predictor.open_scene(scene_paths) as scene:
        grid = {"transform": scene.transform, "width": scene.width, "height": scene.height}
        crs = CRS.from_user_input(scene.crs)
        for block in predictor.plan(scene):
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
