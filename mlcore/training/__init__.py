"""Training: its config, the loop, losses, pretraining, recipes, tuning.

`config` is what a run is asked and answers; `recipes` the measured
defaults; `tuning.train_and_tune` the way every caller trains (weights,
then the post-processing chosen on validation); `pretrain` the
self-supervised start for projects with few labels.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    config="EpochReport MAX_SCALE SCHEDULES TrainConfig TrainResult",
    recipes="DEFAULT_RECIPE RECIPES get_recipe recipe_for_device",
    pretrain="METHODS PretrainConfig finetune_config",
    tuning="train_and_tune",
    losses="IGNORE LOSSES",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
