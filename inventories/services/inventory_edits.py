"""Creating and changing inventories by hand, with rights per field.

An inventory's kind says where its polygons came from: a reference is
hand-made (or imported) ground truth, a predicted one is model output waiting
for review. Training learns from final references, so these rules keep raw
model output from becoming ground truth by a changed field:

- the kind is fixed when the inventory is created;
- nobody creates a predicted inventory by hand (prediction and the import of a
  model's output file make them);
- only reviewers and admins mark an inventory final, or take it out of final.

The API, the Django admin and any command call these functions, so no path
skips the rules.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from inventories.errors import InvalidInput, NotAllowed
from inventories.models import Inventory, Project
from inventories.permissions import Action, can
from inventories.selectors.projects import require
from inventories.services.names import check_name

EDITABLE = ("name", "description", "status")


def inventory_changes_check(*, inventory: Inventory | None, user, data: dict[str, Any]) -> None:
    """Refuse what `user` may not set in `data` (None inventory: a creation). Writes nothing."""
    project: Project = data.get("project") or inventory.project
    require(user, project, Action.EDIT)
    if inventory is None:
        if data.get("kind", Inventory.Kind.REFERENCE) != Inventory.Kind.REFERENCE:
            raise InvalidInput(
                "A predicted inventory comes only from a model run (or the import of a model's "
                "output file); an inventory made by hand is a reference."
            )
        if data.get("status") == Inventory.Status.FINAL:
            _require_review(user, project, "create an inventory as final")
        return
    if data.get("project", project) != inventory.project:
        raise InvalidInput(f"{inventory.name} cannot move to another project.")
    if "kind" in data and data["kind"] != inventory.kind:
        raise InvalidInput(
            f"The kind of {inventory.name} ({inventory.kind}) is fixed when it is created. "
            "To turn reviewed predictions into reference data, promote the accepted polygons "
            "from the review page."
        )
    status = data.get("status", inventory.status)
    if status != inventory.status and Inventory.Status.FINAL in (status, inventory.status):
        verb = "mark it final" if status == Inventory.Status.FINAL else "reopen a final inventory"
        _require_review(user, project, verb)


def _require_review(user, project: Project, what: str) -> None:
    if not can(user, project, Action.REVIEW):
        raise NotAllowed(
            f"Your role in {project.name} does not allow this: only reviewers and admins "
            f"may {what}."
        )


def inventory_create(
    *,
    project: Project,
    user,
    name: str,
    kind: str = Inventory.Kind.REFERENCE,
    status: str = Inventory.Status.DRAFT,
    description: str = "",
) -> Inventory:
    """A new, empty inventory drawn by hand."""
    name = check_name(name, what="The inventory name")
    inventory_changes_check(
        inventory=None, user=user, data={"project": project, "kind": kind, "status": status}
    )
    if Inventory.objects.filter(project=project, name=name).exists():
        raise InvalidInput(f"{project.name} already has an inventory named {name!r}.")
    try:
        with transaction.atomic():
            return Inventory.objects.create(
                project=project,
                name=name,
                kind=kind,
                status=status,
                description=description,
                created_by=user,
            )
    except IntegrityError:
        raise InvalidInput(f"{project.name} already has an inventory named {name!r}.") from None


def inventory_update(*, inventory: Inventory, user, data: dict[str, Any]) -> Inventory:
    """Change name, description or status; kind and project only ever keep their value."""
    inventory_changes_check(inventory=inventory, user=user, data=data)
    changes = {k: data[k] for k in EDITABLE if k in data}
    if "name" in changes:
        changes["name"] = check_name(changes["name"], what="The inventory name")
        taken = Inventory.objects.filter(project=inventory.project, name=changes["name"])
        if taken.exclude(pk=inventory.pk).exists():
            raise InvalidInput(
                f"{inventory.project.name} already has an inventory named {changes['name']!r}."
            )
    for key, value in changes.items():
        setattr(inventory, key, value)
    if changes:
        inventory.save(update_fields=list(changes))
    return inventory
