"""The scene entry point: a model directory and a scene's rasters in, a probability COG and
polygons out, whatever the model's family.

A mask model (semantic or change) is run block by block by
`mlcore.predict.predictor`; an instance model (Mask R-CNN) outlines each
landslide whole in `mlcore.predict.instances`, which builds on the
predictor. Choosing between them here, above both, keeps the two modules
out of each other's imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from mlcore.predict.instances import predict_instance_scene
from mlcore.predict.predictor import (
    InferenceConfig,
    PredictResult,
    ProgressCallback,
    StopCallback,
    is_instance_model,
    predict_semantic_scene,
)

__all__ = ["PredictOptions", "predict_scene"]


class PredictOptions(TypedDict, total=False):
    """What both families' scene predictions take beside the model, the rasters and the COG."""

    polygons_path: str | Path | None
    config: InferenceConfig | None
    threshold: float | None
    min_area_m2: float
    expected_sha256: str | None
    on_progress: ProgressCallback | None
    should_stop: StopCallback | None


def predict_scene(
    model_dir: str | Path,
    scene_paths: Sequence[str | Path],
    out_path: str | Path,
    **options: Unpack[PredictOptions],
) -> PredictResult:
    """Predict a whole scene into a probability COG and, with polygons_path, a GeoPackage.

    `threshold` defaults to the model's best validation threshold. Raises
    PredictionCancelled when should_stop() turns true (between batches);
    output files appear whole or not at all. An instance model's threshold is
    the score a landslide needs, and its polygons (one per landslide, with a
    score) are returned even without polygons_path.
    """
    run = predict_instance_scene if is_instance_model(model_dir) else predict_semantic_scene
    return run(model_dir, scene_paths, out_path, **options)
