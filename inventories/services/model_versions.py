"""What training and pretraining share: the places a version learns from, and its run.

A model version is filled by a job (training or pretraining): both check
their places the same way, record what the version learnt from, create the
version with its job in one step, and report epochs as they end. Prediction
checks a change model's scene pair with the same rule as training.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q

from inventories.errors import InvalidInput
from inventories.models import Inventory, Job, ModelVersion, Project, Scene
from inventories.services.jobs import BuildsVersion, JobContext, job_create
from mlcore.models.registry import ARCHITECTURES
from mlcore.training.trainer import BatchProgress

# Network size options a user may set on training and pretraining alike.
MODEL_FIELDS = ("encoder_depth", "base_channels")


def resolve_places(project: Project, places: list[list[int]]) -> list[list[Scene]]:
    if not places or not all(places):
        raise InvalidInput("Choose at least one scene to train on.")
    wanted = {pk for place in places for pk in place}
    scenes = {s.pk: s for s in Scene.objects.filter(project=project, pk__in=wanted)}
    missing = wanted - scenes.keys()
    if missing:
        raise InvalidInput(f"No scene {sorted(missing)[0]} in {project.name}.")
    return [[scenes[pk] for pk in place] for place in places]


def check_change_pairs(arch: str, places: list[list[Scene]]) -> None:
    """A change-detection model compares two dates: each place must be a (post, pre) pair.

    mlcore stacks a place's rasters as bands and the Siamese network splits
    them in halves, so anything but two same-band optical scenes, post first,
    would silently compare the wrong things.
    """
    family = ARCHITECTURES.get(arch)  # an unknown name is refused with the configuration
    if family is None or family.inputs != "pair":
        return
    for place in places:
        names = " + ".join(s.name for s in place)
        post, *rest = place
        if len(rest) != 1:
            raise InvalidInput(
                f"A change-detection model takes each place as a post-event scene and its "
                f"pre-event scene, nothing more; {names} is {len(place)} scene(s)."
            )
        pre = rest[0]
        if (post.kind, pre.kind) != (Scene.Kind.OPTICAL, Scene.Kind.OPTICAL) or (
            post.phase,
            pre.phase,
        ) != (Scene.Phase.POST, Scene.Phase.PRE):
            raise InvalidInput(
                f"{names}: a change-detection pair is a post-event optical scene followed by a "
                "pre-event optical scene (set the phase when uploading)."
            )
        if post.band_count != pre.band_count:
            raise InvalidInput(
                f"{post.name} has {post.band_count} bands and {pre.name} {pre.band_count}; "
                "the two dates of a change-detection pair need the same bands."
            )


def snapshot_of(places: list[list[Scene]], inventories: list[Inventory]) -> dict[str, Any]:
    """What the model learnt from, with enough detail to tell later whether data changed.

    The landslide count is distinct: the same query joins the inventory's
    changes, and without it each landslide would be counted once per change.
    """
    stats = {
        row["pk"]: row
        for row in Inventory.objects.filter(pk__in=[i.pk for i in inventories])
        .annotate(
            n_landslides=Count(
                "landslides", filter=~Q(landslides__review_state="rejected"), distinct=True
            ),
            last_change=Max("changes__id"),
        )
        .values("pk", "n_landslides", "last_change")
    }
    return {
        "places": [
            [
                {
                    "id": s.pk,
                    "name": s.name,
                    "kind": s.kind,
                    "phase": s.phase,
                    "bands": s.band_names,
                }
                for s in place
            ]
            for place in places
        ],
        "inventories": [
            {
                "id": inv.pk,
                "name": inv.name,
                "landslides": stats[inv.pk]["n_landslides"],
                "last_change": stats[inv.pk]["last_change"],
                "extents": dict(
                    inv.mapped_extents.values_list("split").annotate(n=Count("id")).order_by()
                ),
            }
            for inv in inventories
        ],
    }


def version_queue(params: type[BuildsVersion], **fields: Any) -> Job:
    """Record a version in state training, give it its directory and queue its job, at once.

    One transaction: a version never exists without the job that fills it.
    """
    with transaction.atomic():
        version = ModelVersion.objects.create(**fields)
        version.directory = f"models/{version.pk}"
        version.save(update_fields=["directory"])
        return job_create(
            project=version.project,
            user=fields.get("created_by"),
            params=params(model_version=version.pk),
        )


class EpochHistory:
    """A version's per-epoch rows, stored as each epoch ends so the page shows them live.

    A run resumed after a lost worker replaces the rows from its first epoch on.
    """

    def __init__(self, version: ModelVersion, ctx: JobContext) -> None:
        self.version, self.ctx = version, ctx
        self.rows: list[dict] = list(version.metrics.get("history", []))
        if self.rows:
            ctx.log(f"Resuming after epoch {self.rows[-1]['epoch']} from the last checkpoint.")

    def batch(self, progress: BatchProgress, noun: str = "loss") -> None:
        """Between epochs: the batch reached and the running loss, every half second or so."""
        if not self.ctx.due():
            return
        self.ctx.progress(
            progress.fraction,
            f"Epoch {progress.epoch}/{progress.epochs}: batch {progress.step}/{progress.steps}, "
            f"{noun} {progress.running_loss():.4f}",
        )

    def add(self, row: dict[str, Any], log: str, message: str) -> None:
        self.rows[:] = [h for h in self.rows if h["epoch"] < row["epoch"]] + [row]
        ModelVersion.objects.filter(pk=self.version.pk).update(metrics={"history": self.rows})
        self.ctx.log(log)
        self.ctx.progress(row["epoch"] / row["epochs"], message, force=True)
