"""Named training recipes: what a user gets without choosing every hyper-parameter.

A recipe is the measured answer to "how do I train a model that maps ground
it has not seen" (bench/model_quality.py trains each on one Baige scene and
maps the other): terrain as slope and relief rather than absolute elevation,
coarser model pixels than the imagery (2 m of 0.5 m on a CPU: a 192 px chip
holds 384 m, whole landslides and the valley around them), fewer chips
forced onto landslides (30%, so the network does not learn that most ground
is landslide), colour jitter for another day's light, and post-processing
chosen on validation objects, then test-time flips (on the four models of
two bench runs they raised object F1 in three, from 0.17-0.18 to 0.26-0.33
on the recorded pair, for 4x the network's work on a grid already 16x
smaller than the imagery's). Tried on Baige A -> B (one run each), 2 m
pixels gave the best object F1 and area ratio of 1, 1.5 and 2 m, with a pixel
F1 between the other two, in a third of the 1 m time. `cpu` trains in
minutes on two cores; `gpu` is the larger network and the longer schedule
for a GPU worker. `legacy` is the recipe the README
documented before (RGB + raw elevation, 0.5 m), kept for comparison.

The CLI (`--recipe`), the web app's training form and the bench read these,
so the three never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcore.data.bands import plan_inputs
from mlcore.errors import MlcoreError
from mlcore.models.registry import ModelConfig
from mlcore.training.config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    model: dict[str, Any]
    train: dict[str, Any]
    terrain: bool = True  # slope and relief instead of absolute elevation
    extra: dict[str, Any] = field(default_factory=dict)

    def config(
        self, band_names: Sequence[str], *, keep_elevation: bool = False, **overrides: Any
    ) -> TrainConfig:
        """The TrainConfig for scenes with these bands; `overrides` win over the recipe.

        Model fields (arch, encoder, encoder_depth, base_channels) may be
        overridden too; the input channels follow from the bands. A terrain
        recipe derives slope and relief from an elevation band and leaves
        absolute elevation out, unless `keep_elevation`.
        """
        model_fields = {k: overrides.pop(k) for k in list(overrides) if k in _MODEL_KEYS}
        derived = overrides.pop("derived_bands", None)
        if self.terrain:
            derived, dropped = plan_inputs(band_names, derived, keep_elevation)
        else:
            derived, dropped = plan_inputs(band_names, derived or (), True)
        channels = [b for b in band_names if b not in dropped] + list(derived)
        model = ModelConfig(**{**self.model, **model_fields, "in_channels": len(channels)})
        options = {**self.train, "derived_bands": derived, "dropped_bands": dropped, **overrides}
        return TrainConfig(model=model, **options)


_MODEL_KEYS = ("arch", "encoder", "encoder_depth", "base_channels")

RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "cpu",
            "small U-Net on 2 m pixels with slope and relief; about 10 minutes on 2 CPU cores",
            model={"arch": "unet", "encoder": "none", "encoder_depth": 4, "base_channels": 16},
            train={
                "scale": 4,
                "chip_size": 192,
                "batch_size": 8,
                "epochs": 20,
                "chips_per_epoch": 192,
                "positive_fraction": 0.3,
                "lr": 2e-3,
                "schedule": "cosine",
                "loss": "bce_dice",
                "early_stopping_patience": None,
                "jitter": 0.2,
                "tune_postprocess": True,
                "keep": "last",
                "tta": True,
            },
        ),
        Recipe(
            "gpu",
            "ResNet-34 U-Net on 1 m pixels with slope and relief, 40 epochs; for a GPU worker",
            model={"arch": "unet", "encoder": "resnet34", "encoder_depth": 5},
            train={
                "scale": 2,
                "chip_size": 384,
                "positive_fraction": 0.3,
                "batch_size": 16,
                "epochs": 40,
                "chips_per_epoch": 2048,
                "lr": 1e-3,
                "schedule": "cosine",
                "loss": "bce_dice",
                "early_stopping_patience": 10,
                "jitter": 0.2,
                "tune_postprocess": True,
                "keep": "last",
                "tta": True,
            },
        ),
        Recipe(
            "legacy",
            "the former documented recipe: RGB + raw elevation at 0.5 m, 5 epochs of 160 chips",
            model={"arch": "unet", "encoder": "none", "encoder_depth": 4, "base_channels": 16},
            train={
                "chip_size": 256,
                "batch_size": 8,
                "epochs": 5,
                "chips_per_epoch": 160,
                "lr": 2e-3,
            },
            terrain=False,
        ),
    )
}
DEFAULT_RECIPE = "cpu"


def recipe_for_device(device: str) -> Recipe:
    """`gpu` where training runs on a GPU ("cuda", or "auto" with one), else `cpu`."""
    import torch

    gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    return RECIPES["gpu" if gpu else DEFAULT_RECIPE]


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise MlcoreError(
            f"Unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}."
        ) from None
