"""Where the project page's "Next" link goes: the page on which each kind of action is done."""

from __future__ import annotations

from django.urls import reverse

from inventories.models import Project
from inventories.selectors.workflow import NextAction


def next_action_url(project: Project, action: NextAction | None) -> str | None:
    """The link for the next action, or None where the user's role cannot take it (the card
    then names who can) or nothing is left to do."""
    if action is None or not action.allowed:
        return None
    pk = project.pk
    if action.kind == "upload":
        return reverse("project-detail", args=[pk]) + "#scene-upload"
    if action.kind in ("draw", "extents"):
        return reverse("project-map", args=[pk])
    if action.kind in ("train", "wait"):
        return reverse("model-list", args=[pk])
    if action.kind == "predict" and action.target is not None:
        return reverse("model-detail", args=[pk, action.target])
    if action.kind == "review" and action.target is not None:
        return reverse("inventory-review", args=[pk, action.target])
    if action.kind == "report":
        return reverse("project-reports", args=[pk])
    return None
