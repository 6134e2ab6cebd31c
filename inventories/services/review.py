"""Reviewing predicted polygons: decisions, reopening, reverting, splitting the work, promotion.

Every decision goes through `landslide_update`, so it is a new version with
who and when in the history, and a stale version is a Conflict carrying the
current state. An accepted polygon (with or without edits) is frozen until a
reviewer reopens it: a second click cannot quietly undo someone's approval.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventories.errors import Conflict, InvalidInput, NotAllowed
from inventories.models import (
    Inventory,
    Landslide,
    LandslideChange,
    ReviewAssignment,
    ReviewDecision,
    ReviewRound,
)
from inventories.permissions import Action, can
from inventories.selectors.projects import require
from inventories.selectors.review import landslides_west_to_east
from inventories.services.landslides import APPROVED, area_m2, clean_geometry, landslide_update

DECISIONS = tuple(ReviewDecision.Decision.values)


def _locked(landslide: Landslide, version: int) -> Landslide:
    """The row, locked, if the caller saw its current version; else Conflict with the current."""
    current = Landslide.objects.select_for_update().get(pk=landslide.pk)
    if current.version != version:
        who = current.updated_by.get_username() if current.updated_by else "someone else"
        raise Conflict(
            f"Landslide {current.pk} was changed by {who} (you reviewed version {version}, it "
            f"is now at version {current.version}, {current.get_review_state_display().lower()})."
            " Look at it again before deciding.",
            details=current,
        )
    return current


def _check_reviewable(landslide: Landslide, user) -> None:
    inventory = landslide.inventory
    require(user, inventory.project, Action.REVIEW)
    if inventory.kind != Inventory.Kind.PREDICTED:
        raise InvalidInput(
            f"{inventory.name} is a reference inventory; only predicted inventories are reviewed."
        )


def _check_decision(decision: str, geometry: GEOSGeometry | None) -> None:
    if decision not in DECISIONS:
        raise InvalidInput(f"Unknown decision '{decision}'; use one of {', '.join(DECISIONS)}.")
    if decision == ReviewDecision.Decision.EDITED and geometry is None:
        raise InvalidInput("An 'edited' decision needs the corrected outline (geometry).")


def _apply(current: Landslide, decision: str, version: int, user, geometry, round_: int):
    """Write the decision as a new landslide version and record who decided."""
    updated = landslide_update(
        review=True,
        landslide=current,
        version=version,
        user=user,
        geometry=geometry if decision == ReviewDecision.Decision.EDITED else None,
        data={"review_state": decision},
    )
    ReviewDecision.objects.filter(landslide=current, round=round_, current=True).update(
        current=False
    )
    ReviewDecision.objects.create(
        landslide=updated,
        inventory=updated.inventory,
        reviewer=user,
        round=round_,
        decision=decision,
        version=updated.version,
    )
    return updated


def review_decide(
    *,
    landslide: Landslide,
    decision: str,
    version: int,
    user,
    geometry: GEOSGeometry | None = None,
    round: int = ReviewRound.FIRST,
) -> Landslide:
    """Accept, reject or correct one predicted polygon.

    First round: the decision becomes the polygon's review state (a new
    version). Second round: a blind second opinion, recorded for agreement
    only; the polygon is not changed, and nobody second-reviews their own call.
    """
    _check_reviewable(landslide, user)
    _check_decision(decision, geometry)
    if round not in (ReviewRound.FIRST, ReviewRound.SECOND):
        raise InvalidInput("Review round must be 1 (first review) or 2 (second review).")
    if landslide.created_by_id is not None and landslide.created_by_id == user.pk:
        raise NotAllowed(f"You drew landslide {landslide.pk}; someone else has to review it.")
    with transaction.atomic():
        current = _locked(landslide, version)
        if round == ReviewRound.SECOND:
            return _second_opinion(current, decision, user)
        if current.review_state in APPROVED:
            raise Conflict(
                f"Landslide {current.pk} is already approved "
                f"({current.get_review_state_display().lower()}); reopen it to change it.",
                details=current,
            )
        return _apply(current, decision, version, user, geometry, ReviewRound.FIRST)


def _second_opinion(current: Landslide, decision: str, user) -> Landslide:
    first = ReviewDecision.objects.filter(
        landslide=current, round=ReviewRound.FIRST, current=True
    ).first()
    if first is None:
        raise InvalidInput(
            f"Landslide {current.pk} has no first review yet; second review comes after it."
        )
    if first.reviewer_id == user.pk:
        raise NotAllowed(
            f"You made the first review of landslide {current.pk}; a second review must be "
            "someone else's."
        )
    ReviewDecision.objects.filter(
        landslide=current, round=ReviewRound.SECOND, reviewer=user
    ).update(current=False)
    ReviewDecision.objects.create(
        landslide=current,
        inventory=current.inventory,
        reviewer=user,
        round=ReviewRound.SECOND,
        decision=decision,
        version=current.version,
    )
    return current


def review_reopen(*, landslide: Landslide, version: int, user) -> Landslide:
    """Put a decided polygon back in the queue (a new version); its decisions stay on record."""
    _check_reviewable(landslide, user)
    with transaction.atomic():
        current = _locked(landslide, version)
        if current.review_state == Landslide.Review.NONE:
            raise InvalidInput(
                f"Landslide {current.pk} is not decided; there is nothing to reopen."
            )
        updated = landslide_update(
            review=True,
            landslide=current,
            version=version,
            user=user,
            data={"review_state": "none"},
        )
        ReviewDecision.objects.filter(landslide=current, current=True).update(current=False)
    return updated


def review_resolve(
    *,
    landslide: Landslide,
    decision: str,
    version: int,
    user,
    geometry: GEOSGeometry | None = None,
) -> Landslide:
    """An admin settles a polygon on which the two reviews disagree; this overrides approval."""
    _check_reviewable(landslide, user)
    require(user, landslide.inventory.project, Action.MANAGE)
    _check_decision(decision, geometry)
    with transaction.atomic():
        current = _locked(landslide, version)
        return _apply(current, decision, version, user, geometry, ReviewRound.RESOLUTION)


def review_revert(*, landslide: Landslide, to_version: int, version: int, user) -> Landslide:
    """Restore an earlier version's outline and attributes, as a new version (nothing is lost)."""
    _check_reviewable(landslide, user)
    old = LandslideChange.objects.filter(landslide_pk=landslide.pk, version=to_version).first()
    if old is None or old.geometry is None:
        raise InvalidInput(
            f"Landslide {landslide.pk} has no version {to_version} to go back to; "
            "see its history for the versions there are."
        )
    with transaction.atomic():
        current = _locked(landslide, version)
        if current.review_state in APPROVED:
            raise Conflict(
                f"Landslide {current.pk} is approved; reopen it before reverting it.",
                details=current,
            )
        data = {
            k: old.data[k]
            for k in ("landslide_type", "certainty", "notes", "review_state")
            if k in old.data
        }
        updated = landslide_update(
            review=True,
            landslide=current,
            version=version,
            user=user,
            geometry=old.geometry,
            data=data,
        )
        if updated.review_state != current.review_state:
            ReviewDecision.objects.filter(landslide=current, current=True).update(current=False)
    return updated


def review_assign(
    *, inventory: Inventory, reviewers: list, by: str, user, round: int = ReviewRound.FIRST
) -> list[ReviewAssignment]:
    """Split the inventory's polygons among reviewers, by count or by area (west to east).

    Both splits hand out contiguous strips, so each reviewer works in one
    part of the map. Splitting again replaces that round's assignments.
    """
    require(user, inventory.project, Action.MANAGE)
    if by not in ("count", "area"):
        raise InvalidInput("Split the work 'by' 'count' or 'area'.")
    if not reviewers:
        raise InvalidInput("Name at least one reviewer to split the work among.")
    for reviewer in reviewers:
        if not can(reviewer, inventory.project, Action.REVIEW):
            raise InvalidInput(
                f"{reviewer.get_username()} is not a reviewer or admin of "
                f"{inventory.project.name}; give them that role first."
            )
    rows = list(landslides_west_to_east(inventory=inventory))
    split = _by_count if by == "count" else _by_area
    shares = split(rows, len(reviewers))
    with transaction.atomic():
        ReviewAssignment.objects.filter(inventory=inventory, round=round).delete()
        made = []
        for reviewer, (area, ids) in zip(reviewers, shares, strict=True):
            assignment = ReviewAssignment.objects.create(
                inventory=inventory, reviewer=reviewer, round=round, area=area, created_by=user
            )
            assignment.landslides.set(ids)
            made.append(assignment)
    return made


def _by_count(rows: list[tuple[int, float, float]], n: int) -> list[tuple[None, list[int]]]:
    size, extra = divmod(len(rows), n)
    shares, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        shares.append((None, [pk for pk, _, _ in rows[start:end]]))
        start = end
    return shares


def _by_area(rows: list[tuple[int, float, float]], n: int) -> list[tuple[Polygon | None, list]]:
    """Equal-width strips of longitude over the polygons' centroids."""
    if not rows:
        return [(None, []) for _ in range(n)]
    xs = [x for _, x, _ in rows]
    ys = [y for _, _, y in rows]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    width = (east - west) / n or 1e-9
    shares: list[tuple[Polygon | None, list]] = []
    for i in range(n):
        lo = west + i * width
        hi = east + 1e-9 if i == n - 1 else lo + width
        ids = [pk for pk, x, _ in rows if lo <= x < hi]
        area = Polygon.from_bbox((lo, south - 1e-6, hi, north + 1e-6))
        area.srid = 4326
        shares.append((area, ids))
    return shares


def review_promote(*, predicted: Inventory, reference: Inventory, user) -> list[Landslide]:
    """Copy the approved polygons of a predicted inventory into a reference inventory.

    All or nothing: one outline that cannot be stored stops the whole copy.
    Safe to click twice, also at the same moment: the reference row is locked
    while the copies are chosen and made, polygons already promoted into it are
    skipped, and a unique (inventory, promoted_from) backs that up. The copies
    start "not reviewed" in the reference, so anyone who edits it can correct
    or delete them; the decision that let them in stays in their attributes
    (source inventory and landslide, model version, reviewer, decided at).
    """
    require(user, predicted.project, Action.REVIEW)
    require(user, reference.project, Action.EDIT)
    if predicted.kind != Inventory.Kind.PREDICTED:
        raise InvalidInput(f"{predicted.name} is not a predicted inventory; nothing to promote.")
    if reference.kind != Inventory.Kind.REFERENCE or reference.project_id != predicted.project_id:
        raise InvalidInput(
            f"{reference.name} is not a reference inventory of {predicted.project.name}; "
            "promote into one of the project's reference inventories."
        )
    deciders = _deciders(predicted)
    model = predicted.model_version
    now = timezone.now()
    with transaction.atomic():
        if Inventory.objects.select_for_update().filter(pk=reference.pk).first() is None:
            raise InvalidInput(f"{reference.name} was deleted; nothing was promoted.")
        approved = (
            predicted.landslides.filter(review_state__in=APPROVED)
            .exclude(promoted_copies__inventory=reference)
            .select_related("updated_by")
            .order_by("pk")
        )
        copies = [_copy(source, reference, predicted, model, deciders, user) for source in approved]
        created = Landslide.objects.bulk_create(copies)
        LandslideChange.objects.bulk_create(
            LandslideChange(
                landslide=c,
                landslide_pk=c.pk,
                inventory=reference,
                action=LandslideChange.Action.CREATE,
                version=1,
                geometry=c.geometry,
                data={"review_state": c.review_state, "promoted_from": c.attributes},
                user=user,
                at=now,
            )
            for c in created
        )
    return created


def _copy(source: Landslide, reference: Inventory, predicted, model, deciders, user) -> Landslide:
    try:
        geometry, repaired = clean_geometry(source.geometry)
    except InvalidInput as exc:
        raise InvalidInput(
            f"Landslide {source.pk} cannot be promoted: {exc.message} Nothing was "
            "promoted; fix or reopen it and promote again."
        ) from None
    reviewer, decided_at = deciders.get(source.pk, (source.updated_by, source.updated_at))
    return Landslide(
        inventory=reference,
        promoted_from=source,
        geometry=geometry,
        area_m2=area_m2(geometry) if repaired else source.area_m2,
        landslide_type=source.landslide_type,
        certainty=source.certainty,
        confidence=source.confidence,
        review_state=Landslide.Review.NONE,
        notes=source.notes,
        repaired=repaired is not None,
        attributes=_provenance(source, predicted, model, reviewer, decided_at),
        created_by=user,
        updated_by=user,
    )


def review_promote_into_new(*, predicted: Inventory, name: str, user) -> Inventory:
    """Promote into a new reference inventory called `name`; it exists only if promotion worked.

    Two clicks at once make one inventory: the second meets the unique name
    and is told to promote into the existing one.
    """
    require(user, predicted.project, Action.EDIT)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the new reference inventory to promote into.")
    taken = InvalidInput(
        f"{predicted.project.name} already has an inventory called {name}; choose it as the "
        "target or pick another name."
    )
    if predicted.project.inventories.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            reference = Inventory.objects.create(
                project=predicted.project,
                name=name,
                kind=Inventory.Kind.REFERENCE,
                description=f"Reviewed polygons promoted from {predicted.name}.",
                created_by=user,
            )
            review_promote(predicted=predicted, reference=reference, user=user)
    except IntegrityError:
        raise taken from None
    return reference


def _deciders(predicted: Inventory) -> dict[int, tuple[Any, Any]]:
    """landslide id -> (reviewer, when) of the decision that counts (a resolution wins)."""
    rows = (
        ReviewDecision.objects.filter(inventory=predicted, current=True)
        .exclude(round=ReviewRound.SECOND)
        .select_related("reviewer")
        .order_by("round", "at")
    )
    return {d.landslide_id: (d.reviewer, d.at) for d in rows}


def _provenance(source: Landslide, predicted: Inventory, model, reviewer, decided_at) -> dict:
    return {
        **(source.attributes or {}),
        "source_inventory": predicted.pk,
        "source_inventory_name": predicted.name,
        "source_landslide": source.pk,
        "source_version": source.version,
        "model_version": model.pk if model else None,
        "model_version_name": model.name if model else None,
        "review_state": source.review_state,
        "reviewer": reviewer.get_username() if reviewer else None,
        "decided_at": decided_at.isoformat() if decided_at else None,
    }
