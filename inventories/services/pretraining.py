"""Self-supervised pretraining as a job: a network learns the imagery before the labels.

A pretraining is a ModelVersion of kind pretraining. It maps nothing itself;
a training started from it (`training_start(pretrained=...)`) is how a
project with few mapped extents still gets a useful model. mlcore.training.pretrain
does the work on the scenes' rasters; a retried job continues from the model
directory's last checkpoint.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from inventories.errors import InvalidInput
from inventories.models import Job, ModelVersion, Project, Scene
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path
from inventories.services.hyperparameters import PRETRAINING as PRETRAINING_OPTIONS
from inventories.services.hyperparameters import hyperparameters_check
from inventories.services.jobs import JobContext, PretrainParams
from inventories.services.model_versions import (
    MODEL_FIELDS,
    EpochHistory,
    check_change_pairs,
    resolve_places,
    snapshot_of,
    version_queue,
)
from mlcore.data import SceneSpec
from mlcore.errors import MlcoreError
from mlcore.modeldir import read_config
from mlcore.models import ModelConfig
from mlcore.training.pretrain import METHODS, PretrainConfig, pretrain

# What a user may set, with the type each value must have; the rest keeps mlcore's defaults.
HYPERPARAMETERS: dict[str, type] = {
    "epochs": int,
    "chip_size": int,
    "batch_size": int,
    "chips_per_epoch": int,
    "lr": float,
    "mask_ratio": float,
    "patch_size": int,
    "noise_std": float,
    "seed": int,
    **{name: int for name in MODEL_FIELDS},
}


def _typed(hyper: dict[str, Any]) -> dict[str, Any]:
    """The options as numbers, refusing unknown names and values that are not numbers."""
    unknown = set(hyper) - set(HYPERPARAMETERS)
    if unknown:
        raise InvalidInput(
            f"Unknown pretraining option(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(HYPERPARAMETERS)}."
        )
    typed = {}
    for name, value in hyper.items():
        kind = HYPERPARAMETERS[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"The pretraining option {name} must be a number, not {value!r}.")
        if kind is int and value != int(value):
            raise InvalidInput(f"The pretraining option {name} must be a whole number.")
        typed[name] = kind(value)
    return hyperparameters_check(typed, table=PRETRAINING_OPTIONS, what="pretraining")


def _check_places(places: list[list[Scene]], chip_size: int) -> None:
    """Every place gives the same number of bands and holds at least one chip."""
    bands = sum(s.band_count for s in places[0])
    for place in places:
        names = " + ".join(s.name for s in place)
        if sum(s.band_count for s in place) != bands:
            raise InvalidInput(
                f"{names} gives {sum(s.band_count for s in place)} bands but the first place "
                f"{bands}; pretrain on places with the same bands."
            )
        first = place[0]
        if min(first.width, first.height) < chip_size:
            raise InvalidInput(
                f"{first.name} ({first.width} x {first.height} px) is smaller than one "
                f"{chip_size} px chip; choose a smaller chip size."
            )


def _pretrain_config(
    arch: str, encoder: str, method: str, places: list[list[Scene]], hyper: dict[str, Any]
) -> PretrainConfig:
    model = ModelConfig(
        arch=arch,
        encoder=encoder,
        in_channels=sum(s.band_count for s in places[0]),
        **{k: hyper[k] for k in MODEL_FIELDS if k in hyper},
    )
    return PretrainConfig(
        model=model,
        method=method,
        num_workers=settings.SCARP_TRAIN_LOADER_WORKERS,
        device=settings.SCARP_TRAIN_DEVICE,
        **{k: v for k, v in hyper.items() if k not in MODEL_FIELDS},
    )


def pretraining_start(
    *,
    project: Project,
    user,
    name: str,
    places: list[list[int]],
    arch: str = "unet",
    encoder: str = "resnet34",
    method: str = "masked",
    hyperparameters: dict[str, Any] | None = None,
) -> Job:
    """Check the request, record a pretraining version in state training, and queue the job.

    Everything that can be refused is refused here, before any row is made,
    starting with a user who may not manage the project.
    """
    require(user, project, Action.MANAGE)
    if method not in METHODS:
        raise InvalidInput(
            f"Unknown pretraining method {method!r}; choose one of: {', '.join(METHODS)}."
        )
    hyper = _typed(dict(hyperparameters or {}))
    scene_places = resolve_places(project, places)
    check_change_pairs(arch, scene_places)
    config = _pretrain_config(arch, encoder, method, scene_places, hyper)
    try:
        config.validate()
    except MlcoreError as exc:
        raise InvalidInput(str(exc)) from exc
    _check_places(scene_places, config.chip_size)
    return version_queue(
        PretrainParams,
        project=project,
        name=name.strip() or f"{arch}-{encoder} {method} pretraining",
        kind=ModelVersion.Kind.PRETRAINING,
        architecture=arch,
        encoder=encoder,
        hyperparameters=hyper,
        pretraining=config.record(),
        data_snapshot=snapshot_of(scene_places, []),
        created_by=user,
    )


def run_pretrain(job: Job, ctx: JobContext) -> dict:
    """Pretrain on the recorded places; a redelivered job continues from last.pt."""
    version = ModelVersion.objects.get(pk=PretrainParams.of(job).model_version)
    history = EpochHistory(version, ctx)
    snapshot = version.data_snapshot
    places = [[Scene.objects.get(pk=s["id"]) for s in place] for place in snapshot["places"]]
    method = version.pretraining["method"]
    hyper = version.hyperparameters
    config = _pretrain_config(version.architecture, version.encoder, method, places, hyper)
    specs = [SceneSpec([s.path for s in place]) for place in places]
    out_dir = media_path(version.directory)
    ctx.progress(0.01, "Measuring the imagery's bands", force=True)

    def on_epoch(report: dict[str, Any]) -> None:
        epochs = f"{report['epoch']}/{report['epochs']}"
        history.add(
            report,
            f"epoch {epochs}: reconstruction loss {report['loss']:.4f}",
            f"Epoch {epochs}, reconstruction loss {report['loss']:.4f}",
        )

    result = pretrain(
        config,
        specs,
        out_dir,
        on_epoch=on_epoch,
        on_batch=lambda progress: history.batch(progress, "reconstruction loss"),
        should_stop=ctx.cancelled,
    )
    written = read_config(out_dir)
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.READY,
        metrics={
            "history": result.history,
            "loss": result.final_loss,
            "epochs_run": result.epochs_run,
        },
        checkpoint_sha256=result.checkpoint_sha256,
        input_bands=written["input"]["bands"],
        normalisation=written["input"],
        pretraining=written["pretraining"],
    )
    return {"model_version": version.pk, "loss": result.final_loss, "epochs": result.epochs_run}
