"""Pages of the model registry: list, train, compare, promote, retrain."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from inventories.models import Inventory, Job
from inventories.pages.lookups import not_found_is_404, project_or_404
from inventories.permissions import Action, can
from inventories.selectors.jobs import jobs_of_project
from inventories.selectors.models import (
    metrics_beside_parent,
    model_version_get,
    model_versions,
    prediction_places,
    ready_pretrainings,
    training_defaults,
    training_places,
)
from inventories.selectors.projects import inventories_of
from inventories.services.model_exports import onnx_current
from mlcore.models.registry import ARCHITECTURES
from mlcore.training.pretrain import METHODS as PRETRAINING_METHODS


@login_required
def model_list(request, pk: int):
    project = project_or_404(request, pk)
    versions = model_versions(project=project)
    places = training_places(project=project)
    jobs = jobs_of_project(project=project, kinds=[Job.Kind.TRAIN, Job.Kind.PRETRAIN], limit=10)
    families = [family.traits() for family in ARCHITECTURES.values()]
    context = {
        "project": project,
        "versions": versions,
        "defaults": training_defaults(settings.SCARP_TRAIN_DEVICE),
        "places": places,
        "inventories": inventories_of(project=project, kind=Inventory.Kind.REFERENCE),
        "families": families,
        # What the page's script reads (json_script): each family's traits by name (a change
        # model takes each place as a post,pre pair) and each place's scenes.
        "config": {
            "families": {f["name"]: f for f in families},
            "places": [
                {
                    "post": p.scene.pk,
                    "dem": [e.pk for e in p.elevation],
                    "pre": p.pre.pk if p.pre else None,
                }
                for p in places
            ],
        },
        "jobs": jobs,
        "can_manage": can(request.user, project, Action.MANAGE),
        "pretrainings": ready_pretrainings(project=project),
        "pretraining_methods": PRETRAINING_METHODS,
    }
    return render(request, "inventories/model_list.html", context)


@login_required
def model_detail(request, pk: int, version_pk: int):
    project = project_or_404(request, pk)
    with not_found_is_404():
        version = model_version_get(project=project, pk=version_pk)
    context = {
        "project": project,
        "version": version,
        "rows": metrics_beside_parent(version),
        "history": version.metrics.get("history", []),
        "can_manage": can(request.user, project, Action.MANAGE),
        "config_rows": _config_rows(version.hyperparameters),
        "snapshot": version.data_snapshot,
        "onnx_ready": onnx_current(version),
        "places": [
            {"ids": ",".join(str(s.pk) for s in stack), "label": " + ".join(s.name for s in stack)}
            for stack in prediction_places(version)
        ],
    }
    return render(request, "inventories/model_detail.html", context)


# Option names a reader would not guess from the key alone.
_OPTION_LABELS = {"lr": "Learning rate", "max_val_chips": "Most validation chips"}


def _config_rows(options: dict) -> list[tuple[str, str]]:
    """The training options as (label, value) rows: a table a person reads, not JSON."""
    rows = []
    for key, value in options.items():
        label = _OPTION_LABELS.get(key, key.replace("_", " ").capitalize())
        if value is None:
            shown = "—"
        elif isinstance(value, dict | list):
            shown = json.dumps(value)
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows
