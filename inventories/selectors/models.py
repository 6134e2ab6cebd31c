"""Reads for the model registry and the training form."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from inventories.models import ModelVersion, Project, Scene


@dataclass
class Place:
    """An optical scene and the elevation layers that cover it, offered as extra bands."""

    scene: Scene
    elevation: list[Scene] = field(default_factory=list)


def training_places(*, project: Project) -> list[Place]:
    optical = project.scenes.filter(kind=Scene.Kind.OPTICAL, phase=Scene.Phase.POST)
    places = []
    for scene in optical.order_by("name"):
        candidates = project.scenes.filter(
            kind=Scene.Kind.DEM, footprint__intersects=scene.footprint
        )
        # Neighbouring scenes overlap a little: take the DEM that covers most of this one.
        covering = max(
            candidates,
            key=lambda dem: dem.footprint.intersection(scene.footprint).area,
            default=None,
        )
        places.append(Place(scene, [covering] if covering else []))
    return places


def model_versions(*, project: Project) -> QuerySet[ModelVersion]:
    return project.model_versions.select_related("parent", "created_by").order_by("-created_at")


def metrics_beside_parent(version: ModelVersion) -> list[tuple[str, float | None, float | None]]:
    """Rows of (metric, this version, parent) for the figures a mapper compares."""
    names = [
        ("F1", "f1"),
        ("IoU", "iou"),
        ("Precision", "precision"),
        ("Recall", "recall"),
        ("F1 at 0.5", "f1_at_0_5"),
        ("Threshold", "threshold"),
        ("Epochs", "epochs_run"),
    ]
    parent = version.parent.metrics if version.parent else {}
    return [(label, version.metrics.get(key), parent.get(key)) for label, key in names]
