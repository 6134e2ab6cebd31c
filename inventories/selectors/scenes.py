"""How scenes are named in the pages' lists."""

from __future__ import annotations

from inventories.models import Project, Scene


def scene_label(scene: Scene) -> str:
    """A scene as a list shows it: its phase only for imagery (a DEM is of no event phase).

    "Baige · post-event · 2018-11-10", "Baige DEM · DEM", "slope of Baige DEM · Slope (derived)".
    """
    parts = [scene.name]
    if scene.kind == Scene.Kind.OPTICAL:
        parts.append(scene.get_phase_display().lower())
    else:
        parts.append(scene.get_kind_display())
    if scene.acquired_on:
        parts.append(scene.acquired_on.isoformat())
    return " · ".join(parts)


def with_labels(scenes: list[dict], *, project: Project) -> list[dict]:
    """The map configuration's scene entries, each given its `label`."""
    labels = {scene.pk: scene_label(scene) for scene in project.scenes.all()}
    return [{**entry, "label": labels[entry["id"]]} for entry in scenes]
