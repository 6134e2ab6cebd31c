"""Reads for the model registry and the training form."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from inventories.errors import NotFound
from inventories.models import Job, ModelVersion, Project, Scene
from mlcore.training.recipes import recipe_for_device


@dataclass
class Place:
    """A post-event optical scene, the elevation that covers it and its pre-event partner.

    Elevation is offered as extra bands; the pre-event scene makes the pair a
    change-detection model (a family whose inputs are a pair) compares.
    """

    scene: Scene
    elevation: list[Scene] = field(default_factory=list)
    pre: Scene | None = None

    def stack(self, recipe: list[str]) -> list[Scene] | None:
        """The scenes in a model's order (see `place_recipe`), or None when a part is missing."""
        parts = {"post": [self.scene], "pre": [self.pre] if self.pre else [], "dem": self.elevation}
        stacked = []
        for part in recipe:
            if not parts[part]:
                return None
            stacked.append(parts[part][0])
        return stacked


def _most_covering(scene: Scene, candidates) -> Scene | None:
    """Neighbouring scenes overlap a little: take the candidate that covers most of `scene`."""
    return max(
        candidates,
        key=lambda other: other.footprint.intersection(scene.footprint).area,
        default=None,
    )


def pre_event_partner(scene: Scene) -> Scene | None:
    """The pre-event optical scene with the same bands that covers most of a post-event one."""
    candidates = scene.project.scenes.filter(
        kind=Scene.Kind.OPTICAL,
        phase=Scene.Phase.PRE,
        band_count=scene.band_count,
        footprint__intersects=scene.footprint,
    ).exclude(pk=scene.pk)
    return _most_covering(scene, candidates)


def training_places(*, project: Project) -> list[Place]:
    optical = project.scenes.filter(kind=Scene.Kind.OPTICAL, phase=Scene.Phase.POST)
    places = []
    for scene in optical.order_by("name"):
        dems = project.scenes.filter(kind=Scene.Kind.DEM, footprint__intersects=scene.footprint)
        covering = _most_covering(scene, dems)
        places.append(Place(scene, [covering] if covering else [], pre_event_partner(scene)))
    return places


def place_recipe(version: ModelVersion) -> list[str]:
    """What a model's places were made of, in order: "post", "pre" or "dem" per scene.

    Read from the first place of the training snapshot, so a prediction stacks
    the same kinds of scenes in the same order the network learnt.
    """
    places = version.data_snapshot.get("places") or [[]]
    ids = [s["id"] for s in places[0]]
    rows = {s.pk: s for s in Scene.objects.filter(pk__in=ids)}
    recipe = []
    for entry in places[0]:
        scene = rows.get(entry["id"])
        kind = scene.kind if scene else entry.get("kind")
        phase = scene.phase if scene else entry.get("phase", Scene.Phase.POST)
        if kind == Scene.Kind.DEM:
            recipe.append("dem")
        else:
            recipe.append("pre" if phase == Scene.Phase.PRE and recipe else "post")
    return recipe or ["post"]


def prediction_places(version: ModelVersion) -> list[list[Scene]]:
    """The project's places stacked like the model's training places; incomplete ones left out."""
    recipe = place_recipe(version)
    stacks = (place.stack(recipe) for place in training_places(project=version.project))
    return [stack for stack in stacks if stack]


def model_versions(*, project: Project) -> list[ModelVersion]:
    """The registry, newest first; each version's queued or running job as `building_job`.

    The page offers Cancel on a version still training and needs the job to
    cancel: one query for all of them, not one per row.
    """
    versions = list(
        project.model_versions.select_related("parent", "created_by", "pretrained_from").order_by(
            "-created_at"
        )
    )
    building = Job.objects.filter(
        project=project,
        kind__in=[Job.Kind.TRAIN, Job.Kind.PRETRAIN],
        state__in=Job.ACTIVE_STATES,
    )
    jobs = {job.params.get("model_version"): job for job in building}
    for version in versions:
        version.building_job = jobs.get(version.pk)
    return versions


def ready_pretrainings(*, project: Project) -> QuerySet[ModelVersion]:
    """Pretrainings a new training may start from."""
    return project.model_versions.filter(
        kind=ModelVersion.Kind.PRETRAINING, status=ModelVersion.Status.READY
    ).order_by("-created_at")


def metrics_beside_parent(version: ModelVersion) -> list[tuple[str, float | None, float | None]]:
    """Rows of (metric, this version, parent) for the figures a mapper compares."""
    names = [
        ("F1", "f1"),
        ("IoU", "iou"),
        ("Precision", "precision"),
        ("Recall", "recall"),
        ("F1 at 0.5", "f1_at_0_5"),
        ("Polygons: pixel F1", "polygon_f1"),
        ("Polygons: object F1 (IoU ≥ 0.5)", "object_f1"),
        ("Threshold", "threshold"),
        ("Epochs", "epochs_run"),
    ]
    parent = version.parent.metrics if version.parent else {}
    return [(label, version.metrics.get(key), parent.get(key)) for label, key in names]


def training_defaults(device: str) -> dict[str, object]:
    """What the training and pretraining forms start from: the recipe for the training device.

    On a CPU that is mlcore's `cpu` recipe (a small U-Net on 2 m pixels with
    slope and relief, minutes on two cores); on a GPU the `gpu` recipe's
    ResNet-34 U-Net and longer epochs. The form shows the recipe's own figures.
    """
    recipe = recipe_for_device(device)
    model, train = recipe.model, recipe.train
    return {
        "gpu": recipe.name == "gpu",
        "recipe": recipe.name,
        "summary": recipe.summary,
        "encoder": model["encoder"],
        "encoder_depth": model["encoder_depth"],
        "base_channels": model.get("base_channels", 32),
        "epochs": train["epochs"],
        "chips_per_epoch": train["chips_per_epoch"],
        "chip_size": train["chip_size"],
        "batch_size": train["batch_size"],
        "scale": train.get("scale", 1),
        "tta": bool(train.get("tta", False)),
    }


def model_version_get(*, project: Project, pk: int) -> ModelVersion:
    """A model version of this project, or NotFound."""
    version = ModelVersion.objects.filter(project=project, pk=pk).first()
    if version is None:
        raise NotFound("No such model version in this project.")
    return version
