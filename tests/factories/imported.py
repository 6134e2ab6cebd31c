"""A project filled through the import path, as a user would: for training and pretraining."""

from __future__ import annotations

from pathlib import Path

from inventories.models import Job, Project
from inventories.services.inventories import extents_import, inventory_import
from inventories.services.pretraining import pretraining_start
from inventories.services.scenes import scene_import
from tests.factories.landslide_scenes import make_scene

# A tiny network and pretraining that run in about a second on a CPU.
NETWORK = {"encoder_depth": 3, "base_channels": 8}
PRETRAIN = {"epochs": 2, "batch_size": 4, "chip_size": 64, "chips_per_epoch": 8, **NETWORK}
PRETRAIN["patch_size"] = 16


def import_generated_place(project: Project, directory: Path, size: int) -> list[list[int]]:
    """Import a generated RGB scene, its DEM, landslides and extents; return [[image, dem]]."""
    synthetic = make_scene(directory, size=size)
    (image,) = scene_import(
        project=project, source=synthetic.image, band_names=["red", "green", "blue"]
    )
    dem = scene_import(project=project, source=synthetic.dem, kind="dem")[0]
    inventory = inventory_import(project=project, path=synthetic.landslides, name="Generated")
    extents_import(inventory=inventory, path=synthetic.extents)
    return [[image.pk, dem.pk]]


def start_pretraining(project, places, user, **hyper) -> Job:
    return pretraining_start(
        project=project,
        user=user,
        name="pre",
        places=places,
        arch="unet",
        encoder="none",
        method="masked",
        hyperparameters={**PRETRAIN, **hyper},
    )
