"""The review page of a predicted inventory and its team dashboard.

Both only read; every decision goes through the review API, which owns the
rules (roles, versions, approval freezing).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from inventories.models import Inventory
from inventories.pages.lookups import not_found_is_404, project_or_404
from inventories.permissions import Action, can
from inventories.selectors.projects import inventories_of, predicted_inventory_get
from inventories.selectors.review import review_dashboard, review_threshold, speck_area
from inventories.selectors.scenes import with_labels
from inventories.selectors.tiles import map_layers


def _predicted(request: HttpRequest, pk: int, inventory_pk: int) -> Inventory:
    project = project_or_404(request, pk)
    with not_found_is_404():
        return predicted_inventory_get(project=project, pk=inventory_pk)


@login_required
@ensure_csrf_cookie
def review_page(request: HttpRequest, pk: int, inventory_pk: int) -> HttpResponse:
    inventory = _predicted(request, pk, inventory_pk)
    project = inventory.project
    config = map_layers(project=project)
    config["scenes"] = with_labels(config["scenes"], project=project)
    config.update(
        user=request.user.get_username(),
        inventory={"id": inventory.pk, "name": inventory.name},
        threshold=review_threshold(inventory=inventory),
        # The page opens on the scene the model saw, not on the first scene listed.
        initialScene=inventory.source_scene_id,
        speckM2=round(speck_area(inventory=inventory), 1),
        canReview=can(request.user, project, Action.REVIEW),
        references=[
            {"id": i.pk, "name": i.name}
            for i in inventories_of(project=project, kind=Inventory.Kind.REFERENCE)
        ],
    )
    context = {"project": project, "inventory": inventory, "config": config}
    return render(request, "inventories/review.html", context)


@login_required
def review_dashboard_page(request: HttpRequest, pk: int, inventory_pk: int) -> HttpResponse:
    inventory = _predicted(request, pk, inventory_pk)
    context = {
        "project": inventory.project,
        "inventory": inventory,
        "dashboard": review_dashboard(inventory=inventory),
    }
    return render(request, "inventories/review_dashboard.html", context)
