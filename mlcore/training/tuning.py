"""Training followed by the choice of post-processing: the way every caller trains a model.

`train` learns weights; choosing how its maps become polygons needs
prediction (`mlcore.predict.predictor`), which itself builds on the model families that
build on `train`. Keeping the step here, above both, keeps the import graph
without a circle: `train_and_tune` is what the CLI, the web app and the
bench call, for every family: `TASKS` gives the training task of each kind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Unpack

from mlcore.data import LabelledScene, StackedScene
from mlcore.modeldir.directory import update_config
from mlcore.models.registry import CHANGE, INSTANCE, SEMANTIC, family_of
from mlcore.predict.postprocess import Tuned, Validation, tune_postprocess, validation_frames
from mlcore.predict.predictor import InferenceConfig
from mlcore.predict.scene import predict_scene
from mlcore.training.config import TrainConfig, TrainResult
from mlcore.training.instances import InstanceTask
from mlcore.training.segmentation import SegmentationTask, TrainingCancelled
from mlcore.training.trainer import RunOptions, run_task

# The training task of each kind of model family.
TASKS: dict[str, type[SegmentationTask]] = {
    SEMANTIC: SegmentationTask,
    CHANGE: SegmentationTask,
    INSTANCE: InstanceTask,
}


def train_and_tune(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    out_dir: str | Path,
    **options: Unpack[RunOptions],
) -> TrainResult:
    """Train with the task of the model's family, then, when the config asks
    (`tune_postprocess`) and the family draws probability maps, the
    post-processing chosen on the validation extents, saved in config.json."""
    family = family_of(config.model.arch)
    result = run_task(TASKS[family.kind](config, train_data, val_data), out_dir, **options)
    if config.tune_postprocess and family.tunes_postprocess and result.checkpoint_sha256:
        tuned = tune_on_validation(
            Path(out_dir), val_data, device=config.device, should_stop=options.get("should_stop")
        )
        result.best_threshold = tuned.postprocess.threshold
        result.postprocess = tuned.to_dict()
    return result


def tune_on_validation(
    model_dir: Path,
    val_data: Sequence[LabelledScene],
    *,
    device: str = "auto",
    should_stop: Callable[[], bool] | None = None,
) -> Tuned:
    """Predict the validation scenes with the best weights and choose the post-processing.

    What is chosen (threshold, clean-up radii, smallest landslide) is saved in
    config.json with its validation scores, so every later prediction draws
    polygons the same way. Only validation extents are scored; nothing the
    model trained on is.
    """
    validations = []
    with tempfile.TemporaryDirectory(prefix=".tune-", dir=model_dir) as tmp:
        for i, labelled in enumerate(val_data):
            extent = labelled.extent_of("validation")
            if not extent:
                continue
            prob = Path(tmp) / f"validation-{i}.tif"
            try:  # a stop asked for while a validation scene is mapped ends it between batches
                predict_scene(
                    model_dir,
                    labelled.scene.paths,
                    prob,
                    config=InferenceConfig(device=device),
                    should_stop=should_stop,
                )
            except TrainingCancelled:
                raise TrainingCancelled(
                    "Training stopped while choosing the post-processing."
                ) from None
            with StackedScene(labelled.scene) as scene:
                crs = scene.crs
            ref, area = validation_frames(labelled.landslides, extent, crs)
            validations.append(Validation(prob, ref, area))
        tuned = tune_postprocess(validations)
    post = tuned.postprocess
    update_config(
        model_dir,
        threshold=post.threshold,
        postprocess=post.to_dict(),
        postprocess_validation={"pixel_f1": tuned.pixel_f1, "object_f1": tuned.object_f1},
    )
    return tuned
