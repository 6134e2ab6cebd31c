"""Training models as jobs, the model registry's writes, and retraining.

The web side only gathers rows into plain inputs (raster paths the server
wrote, GeoDataFrames of landslides and mapped extents) and hands them to
mlcore.training.trainer; a retried job resumes from the model directory's last checkpoint.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from django.conf import settings
from django.db import transaction

from inventories.errors import InvalidInput
from inventories.models import Inventory, Job, Landslide, MappedExtent, ModelVersion, Project, Scene
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path
from inventories.services.geometry import to_shapely
from inventories.services.hyperparameters import TRAINING as TRAINING_OPTIONS
from inventories.services.hyperparameters import hyperparameters_check
from inventories.services.inventories import inventory_frame
from inventories.services.jobs import JobContext, TrainParams
from inventories.services.model_versions import (
    MODEL_FIELDS,
    EpochHistory,
    check_change_pairs,
    resolve_places,
    snapshot_of,
    version_queue,
)
from inventories.services.names import fit_name
from mlcore.data import SceneSpec, StackedScene, label_scenes
from mlcore.errors import MlcoreError
from mlcore.modeldir.directory import read_config
from mlcore.models.registry import ARCHITECTURES
from mlcore.predict.predictor import model_tta
from mlcore.training.config import TrainConfig
from mlcore.training.pretrain import finetune_config
from mlcore.training.recipes import RECIPES, get_recipe, recipe_for_device
from mlcore.training.segmentation import EpochReport
from mlcore.training.tuning import train_and_tune

# What a user may set; everything else keeps mlcore's defaults.
HYPERPARAMETERS = (
    "epochs",
    "batch_size",
    "chip_size",
    "chips_per_epoch",
    "lr",
    "weight_decay",
    "loss",
    "schedule",
    "seed",
    "early_stopping_patience",
    "max_val_chips",
    "scale",
    "recipe",
)


def _inventories(project: Project, ids: list[int] | None) -> list[Inventory]:
    queryset = project.inventories.filter(kind=Inventory.Kind.REFERENCE)
    if ids:
        queryset = project.inventories.filter(pk__in=ids)
        if queryset.count() != len(set(ids)):
            raise InvalidInput(f"Some of the chosen inventories are not in {project.name}.")
    inventories = list(queryset.order_by("pk"))
    if not inventories:
        raise InvalidInput(f"{project.name} has no reference inventory to learn from.")
    splits = set(
        MappedExtent.objects.filter(inventory__in=inventories).values_list("split", flat=True)
    )
    for needed in ("train", "validation"):
        if needed not in splits:
            raise InvalidInput(
                f"The chosen inventories have no mapped extent marked {needed!r}; draw one (or "
                "change an extent's split) so training knows where the labels are complete."
            )
    return inventories


def training_start(
    *,
    project: Project,
    user,
    name: str,
    places: list[list[int]],
    arch: str = "unet",
    encoder: str = "resnet34",
    inventories: list[int] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    parent: ModelVersion | None = None,
    pretrained: ModelVersion | None = None,
) -> Job:
    """Check the request, record a ModelVersion in state training, and queue the job.

    With `pretrained` (a ready pretraining of the same network) the training
    starts from its weights; a mismatch is refused here, before any row exists.
    Only a manager of the project may train.
    """
    require(user, project, Action.MANAGE)
    hyper = dict(hyperparameters or {})
    unknown = set(hyper) - set(HYPERPARAMETERS) - set(MODEL_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown training option(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(HYPERPARAMETERS + MODEL_FIELDS)}."
        )
    hyper = hyperparameters_check(hyper, table=TRAINING_OPTIONS, what="training")
    scene_places = resolve_places(project, places)
    check_change_pairs(arch, scene_places)
    chosen = _inventories(project, inventories)
    hyper.setdefault("recipe", recipe_for_device(settings.SCARP_TRAIN_DEVICE).name)
    if hyper["recipe"] not in RECIPES:
        raise InvalidInput(
            f"Unknown recipe {hyper['recipe']!r}; choose one of: {', '.join(RECIPES)}."
        )
    config = _train_config(arch, encoder, scene_places, hyper, pretrained=pretrained is not None)
    config.validate()  # refuses a bad architecture, encoder or value now, not in the job
    if pretrained is not None:
        config = _finetune(config, pretrained, project=project)
    return version_queue(
        TrainParams,
        project=project,
        name=name.strip() or f"{arch}-{encoder}",
        architecture=arch,
        encoder=encoder,
        hyperparameters=hyper,
        data_snapshot=snapshot_of(scene_places, chosen),
        parent=parent,
        pretrained_from=pretrained,
        pretraining=config.pretraining or {},
        created_by=user,
    )


def scene_spec(place: list[Scene]) -> SceneSpec:
    """A place for mlcore, its bands named as the user named them at upload.

    The stored COGs may carry no band descriptions; without the names a DEM's
    one band would be a file stem, and slope and relief could not be derived.
    """
    names = [name for scene in place for name in scene.band_names]
    complete = len(names) == sum(scene.band_count for scene in place)
    return SceneSpec([s.path for s in place], band_names=names if complete else None)


def _train_config(
    arch: str,
    encoder: str,
    places: list[list[Scene]],
    hyper: dict[str, Any],
    *,
    pretrained: bool = False,
) -> TrainConfig:
    """The recipe's configuration for these places, with the options the user set on top.

    A fine-tuning keeps the pretraining's inputs (every band as it is, on the
    scene's own pixels), since its weights were learnt on them; a family that
    takes no terrain bands or model pixels (Mask R-CNN learns instances) keeps
    them too.
    """
    spec = scene_spec(places[0])
    with StackedScene(spec) as scene:
        bands = scene.band_names
    recipe = get_recipe(hyper.get("recipe") or recipe_for_device(settings.SCARP_TRAIN_DEVICE).name)
    options = {k: hyper[k] for k in HYPERPARAMETERS if k in hyper and k != "recipe"}
    options.update({k: hyper[k] for k in MODEL_FIELDS if k in hyper})
    options.update(arch=arch, encoder=encoder)
    options.update(num_workers=settings.SCARP_TRAIN_LOADER_WORKERS)
    options.update(device=settings.SCARP_TRAIN_DEVICE)
    family = ARCHITECTURES.get(arch)
    if pretrained or (family is not None and not family.terrain_and_scale):
        options.update(scale=1, tune_postprocess=False, derived_bands=())
        return recipe.config(bands, keep_elevation=True, **options)
    return recipe.config(bands, **options)


def _labels(inventories: list[Inventory]) -> list[gpd.GeoDataFrame]:
    """Reference polygons; rejected ones (a review said: not a landslide) are left out."""
    frames = []
    for inventory in inventories:
        frame = inventory_frame(inventory)
        if "review_state" in frame.columns:
            frame = frame[frame["review_state"] != Landslide.Review.REJECTED]
        frames.append(frame[["geometry"]])
    return frames


def _extents(inventories: list[Inventory]) -> gpd.GeoDataFrame:
    rows = MappedExtent.objects.filter(inventory__in=inventories).order_by("pk")
    return gpd.GeoDataFrame(
        {"split": [e.split for e in rows]},
        geometry=[to_shapely(e.geometry) for e in rows],
        crs="EPSG:4326",
    )


def run_train(job: Job, ctx: JobContext) -> dict:
    version = ModelVersion.objects.get(pk=TrainParams.of(job).model_version)
    history = EpochHistory(version, ctx)
    snapshot = version.data_snapshot
    places = [[Scene.objects.get(pk=s["id"]) for s in place] for place in snapshot["places"]]
    ids = [i["id"] for i in snapshot["inventories"]]
    inventories = list(Inventory.objects.filter(pk__in=ids))
    hyper = version.hyperparameters
    config = _train_config(
        version.architecture,
        version.encoder,
        places,
        hyper,
        pretrained=version.pretrained_from_id is not None,
    )
    if version.pretraining:
        config = _finetune(config, version.pretrained_from, project=version.project)
    specs = [scene_spec(place) for place in places]
    ctx.progress(0.01, "Reading labels and extents", force=True)
    labelled = label_scenes(specs, _labels(inventories), [_extents(inventories)])
    out_dir = media_path(version.directory)

    def on_epoch(report: EpochReport) -> None:
        history.add(
            report.to_dict(),
            f"epoch {report.epoch}/{report.epochs}: loss {report.train_loss:.4f}, "
            f"val loss {report.val_loss:.4f}, F1 {report.best_f1:.3f}",
            f"Epoch {report.epoch}/{report.epochs}, validation F1 {report.best_f1:.3f}",
        )

    result = train_and_tune(
        config,
        labelled,
        labelled,
        out_dir,
        on_epoch=on_epoch,
        on_batch=history.batch,
        should_stop=ctx.cancelled,
    )
    return _record_result(version, result, out_dir)


def _record_result(version: ModelVersion, result, out_dir) -> dict:
    config = read_config(out_dir)
    best = next(h for h in result.history if h["epoch"] == result.best_epoch)
    metrics = {
        "history": result.history,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "threshold": result.best_threshold,
        "f1": result.best_f1,
        "iou": best.get("best_iou"),
        "precision": best.get("best_precision"),
        "recall": best.get("best_recall"),
        "f1_at_0_5": best.get("f1"),
    }
    tuned = config.get("postprocess_validation")
    if tuned:  # the polygons a prediction will draw, scored on the validation extents
        metrics.update(
            polygon_f1=tuned["pixel_f1"],
            object_f1=tuned["object_f1"],
            postprocess=config.get("postprocess", {}),
            tta=model_tta(config),
        )
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.READY,
        metrics=metrics,
        checkpoint_sha256=result.checkpoint_sha256,
        input_bands=config["input"]["bands"],
        normalisation=config["input"],
    )
    return {"model_version": version.pk, "f1": result.best_f1, "epochs": result.epochs_run}


def _finetune(
    config: TrainConfig, pretrained: ModelVersion | None, *, project: Project
) -> TrainConfig:
    """`config` starting from a ready pretraining of the project: same network, same bands.

    The hash in the pretraining's config.json must be the one recorded when it
    finished, so a directory changed since is refused rather than fine-tuned from.
    """
    if pretrained is None:
        raise InvalidInput(
            "The pretraining this model starts from was deleted; start a new training."
        )
    if pretrained.project_id != project.pk or pretrained.kind != ModelVersion.Kind.PRETRAINING:
        raise InvalidInput(
            f"{pretrained.name} is not a pretraining of {project.name}; choose one of its "
            "ready pretrainings, or none."
        )
    if pretrained.status != ModelVersion.Status.READY:
        raise InvalidInput(
            f"The pretraining {pretrained.name} is not ready ({pretrained.status}); wait for it "
            "to finish, or start without it."
        )
    directory = media_path(pretrained.directory)
    try:
        tuned = finetune_config(config, directory)
    except MlcoreError as exc:  # its message names the server's path: name the version instead
        raise InvalidInput(str(exc).replace(str(directory), pretrained.name)) from None
    if tuned.pretraining["sha256"] != pretrained.checkpoint_sha256:
        raise InvalidInput(
            f"The checkpoint of {pretrained.name} changed since it was recorded; pretrain again."
        )
    return tuned


def model_promote(*, version: ModelVersion, user) -> ModelVersion:
    """Make this version the project's promoted model (the one prediction uses by default)."""
    require(user, version.project, Action.MANAGE)
    if version.kind == ModelVersion.Kind.PRETRAINING:
        raise InvalidInput(
            f"{version.name} is a pretraining: it maps no landslides, so it cannot be promoted. "
            "Train a model starting from it and promote that."
        )
    if version.status != ModelVersion.Status.READY:
        raise InvalidInput(
            f"{version.name} is not ready ({version.status}); only a ready model can be promoted."
        )
    with transaction.atomic():
        ModelVersion.objects.filter(project=version.project, promoted=True).update(promoted=False)
        version.promoted = True
        version.save(update_fields=["promoted"])
    return version


def model_retrain(*, parent: ModelVersion, user) -> Job:
    """A child version: the parent's configuration on the project's current reference data.

    Polygons accepted in review are in the reference inventories; rejected ones are left out.
    The child starts from the parent's pretraining while that still exists. A pretraining
    is not retrained: it learnt no labels, so the same run would learn the same.
    Only a manager of the project may retrain.
    """
    require(user, parent.project, Action.MANAGE)
    if parent.kind == ModelVersion.Kind.PRETRAINING:
        raise InvalidInput(
            f"{parent.name} is a pretraining and learnt no labels, so there is nothing to "
            "retrain; start a new pretraining (on more imagery), or train a model from it."
        )
    places = [[s["id"] for s in place] for place in parent.data_snapshot.get("places", [])]
    existing = set(Scene.objects.filter(project=parent.project).values_list("pk", flat=True))
    if not places or any(pk not in existing for place in places for pk in place):
        raise InvalidInput(
            f"A scene {parent.name} was trained on no longer exists; start a new training instead."
        )
    return training_start(
        project=parent.project,
        user=user,
        name=fit_name(parent.name, " (retrained)"),
        places=places,
        arch=parent.architecture,
        encoder=parent.encoder,
        hyperparameters=parent.hyperparameters,
        parent=parent,
        pretrained=parent.pretrained_from,
    )
