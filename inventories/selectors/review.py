"""Reads for reviewing a predicted inventory: the queue, progress, agreement and the dashboard."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from django.contrib.gis.db.models.functions import Centroid
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Abs
from pyproj import CRS
from pyproj.exceptions import CRSError

from inventories.errors import InvalidInput
from inventories.models import (
    Inventory,
    Landslide,
    ReviewAssignment,
    ReviewDecision,
    ReviewRound,
)

DEFAULT_THRESHOLD = 0.5
ORDERS = ("uncertainty", "confidence", "confidence_asc", "area", "location")
# A polygon smaller than this many pixels of its source scene is a speck to a reviewer.
SPECK_PIXELS = 9
# ...and never less than this, whatever the pixel size.
SPECK_MIN_M2 = 10.0
STATES = tuple(Landslide.Review.values)


def review_threshold(*, inventory: Inventory) -> float:
    """The model's chosen probability threshold (its best on validation), else 0.5.

    Polygons whose confidence is closest to it are the ones a human is most
    needed for, so the queue starts there.
    """
    model = inventory.model_version
    value = (model.metrics or {}).get("threshold") if model else None
    return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLD


def _centroid_xy(queryset: QuerySet) -> QuerySet:
    centroid = Centroid("geometry")
    return queryset.annotate(
        cx=Func(centroid, function="ST_X", output_field=FloatField()),
        cy=Func(centroid, function="ST_Y", output_field=FloatField()),
    )


def review_queue(
    *,
    inventory: Inventory,
    order: str = "uncertainty",
    state: str | None = None,
    min_area: float | None = None,
    max_area: float | None = None,
    assigned_to=None,
    decided_by=None,
    round: int = ReviewRound.FIRST,
    specks_below: float = 0.0,
) -> QuerySet[Landslide]:
    """The inventory's polygons in review order, filtered; each row carries `uncertainty`.

    Orders: uncertainty (|confidence - threshold| ascending), confidence
    (highest first) or confidence_asc, area (largest first), location (west
    to east, then north to south). Polygons without a confidence come last.
    Polygons under `specks_below` m² come after all the others, in the same
    order: a reviewer starts on landslides, not on one-pixel specks at the
    threshold, and still sees every polygon in the end.
    """
    if order not in ORDERS:
        raise InvalidInput(f"Unknown queue order '{order}'; use one of {', '.join(ORDERS)}.")
    if state is not None and state not in STATES:
        raise InvalidInput(f"Unknown review state '{state}'; use one of {', '.join(STATES)}.")
    threshold = review_threshold(inventory=inventory)
    queryset = inventory.landslides.annotate(
        uncertainty=Abs(F("confidence") - Value(threshold, output_field=FloatField()))
    )
    if state is not None:
        queryset = queryset.filter(review_state=state)
    if min_area is not None:
        queryset = queryset.filter(area_m2__gte=min_area)
    if max_area is not None:
        queryset = queryset.filter(area_m2__lte=max_area)
    if assigned_to is not None:
        queryset = queryset.filter(
            review_assignments__reviewer=assigned_to, review_assignments__round=round
        )
    if decided_by is not None:
        queryset = queryset.filter(
            review_decisions__reviewer=decided_by, review_decisions__current=True
        ).distinct()
    first: list = []
    if specks_below > 0:
        queryset = queryset.annotate(
            speck=Case(
                When(area_m2__lt=specks_below, then=1), default=0, output_field=IntegerField()
            )
        )
        first = ["speck"]
    if order == "uncertainty":
        return queryset.order_by(*first, F("uncertainty").asc(nulls_last=True), "pk")
    if order == "confidence":
        return queryset.order_by(*first, F("confidence").desc(nulls_last=True), "pk")
    if order == "confidence_asc":
        return queryset.order_by(*first, F("confidence").asc(nulls_last=True), "pk")
    if order == "area":
        return queryset.order_by(*first, F("area_m2").desc(nulls_last=True), "pk")
    return _centroid_xy(queryset).order_by(*first, "cx", "-cy", "pk")


def speck_area(*, inventory: Inventory) -> float:
    """The area (m²) under which a polygon of this inventory counts as a speck.

    SPECK_PIXELS pixels of the scene it was predicted on (a 3 x 3 blob is
    noise to a reviewer), at least SPECK_MIN_M2. The scene's pixel size is
    in its CRS's units: degrees are taken at the scene's centre.
    """
    scene = inventory.source_scene
    if scene is None:
        return SPECK_MIN_M2
    pixel = abs(scene.resolution_x * scene.resolution_y)
    try:
        crs = CRS.from_wkt(scene.crs_wkt)
    except CRSError:
        return SPECK_MIN_M2
    if crs.is_geographic:
        pixel *= 111_320.0**2 * math.cos(math.radians(scene.footprint.centroid.y))
    elif crs.axis_info:
        pixel *= crs.axis_info[0].unit_conversion_factor ** 2
    return max(SPECK_MIN_M2, SPECK_PIXELS * pixel)


def landslides_west_to_east(*, inventory: Inventory) -> Iterable[tuple[int, float, float]]:
    """(id, centroid lon, centroid lat) of every polygon, west to east, for splitting work."""
    return (
        _centroid_xy(inventory.landslides.all())
        .order_by("cx", "-cy", "pk")
        .values_list("pk", "cx", "cy")
    )


def review_progress(*, queryset: QuerySet[Landslide]) -> dict:
    """How many polygons are in each review state, and the share decided."""
    counts = queryset.aggregate(
        total=Count("pk"),
        **{s: Count("pk", filter=Q(review_state=s)) for s in STATES},
    )
    decided = counts["total"] - counts[Landslide.Review.NONE]
    counts["decided"] = decided
    counts["fraction"] = decided / counts["total"] if counts["total"] else 0.0
    return counts


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa between two raters' labels for the same items.

    None when it is undefined: no items, or both raters always gave one and
    the same label (chance agreement is 1).
    """
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first.keys() | second.keys()) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def _keep(decision: str) -> str:
    return "reject" if decision == ReviewDecision.Decision.REJECTED else "keep"


def review_pairs(*, inventory: Inventory) -> dict[int, tuple[ReviewDecision, ReviewDecision]]:
    """landslide id -> (first, second) current decisions, for polygons reviewed twice."""
    rows = ReviewDecision.objects.filter(
        inventory=inventory,
        current=True,
        round__in=(ReviewRound.FIRST, ReviewRound.SECOND),
    ).select_related("reviewer")
    first: dict[int, ReviewDecision] = {}
    second: dict[int, ReviewDecision] = {}
    for row in rows:
        (first if row.round == ReviewRound.FIRST else second)[row.landslide_id] = row
    return {pk: (first[pk], second[pk]) for pk in first.keys() & second.keys()}


def review_agreement(*, inventory: Inventory) -> dict:
    """Agreement of first and second review on "landslide or not" (edits count as keep).

    Outline edits are not compared: two reviewers who both keep a polygon
    agree that it is a landslide, which is what precision depends on.
    """
    pairs = review_pairs(inventory=inventory)
    resolved = set(
        ReviewDecision.objects.filter(
            inventory=inventory, round=ReviewRound.RESOLUTION, current=True
        ).values_list("landslide_id", flat=True)
    )
    labels = [(_keep(a.decision), _keep(b.decision)) for a, b in pairs.values()]
    disagreements = sorted(
        pk for pk, (a, b) in pairs.items() if _keep(a.decision) != _keep(b.decision)
    )
    return {
        "pairs": len(pairs),
        "agreed": sum(a == b for a, b in labels),
        "kappa": cohen_kappa(labels),
        "disagreements": [pk for pk in disagreements if pk not in resolved],
        "resolved": [pk for pk in disagreements if pk in resolved],
    }


def review_dashboard(*, inventory: Inventory) -> dict:
    """The team's figures: progress, per reviewer and per assignment, and the model's precision.

    Precision as measured by review = kept (accepted + edited) / decided: the
    share of the model's polygons that people confirmed as landslides.
    """
    progress = review_progress(queryset=inventory.landslides.all())
    kept = progress[Landslide.Review.ACCEPTED] + progress[Landslide.Review.EDITED]
    decisions = (
        ReviewDecision.objects.filter(inventory=inventory, current=True)
        .values("reviewer__username", "round", "decision")
        .annotate(n=Count("pk"))
    )
    reviewers: dict[tuple[str, int], dict] = {}
    for row in decisions:
        key = (row["reviewer__username"], row["round"])
        entry = reviewers.setdefault(
            key,
            {
                "reviewer": key[0],
                "round": key[1],
                "decided": 0,
                **dict.fromkeys(ReviewDecision.Decision.values, 0),
            },
        )
        entry[row["decision"]] += row["n"]
        entry["decided"] += row["n"]
    for entry in reviewers.values():
        decided = entry["decided"] or 1
        entry["accept_rate"] = (entry["accepted"] + entry["edited"]) / decided
        entry["reject_rate"] = entry["rejected"] / decided
    return {
        "inventory": {"id": inventory.pk, "name": inventory.name},
        "threshold": review_threshold(inventory=inventory),
        "progress": progress,
        "precision": kept / progress["decided"] if progress["decided"] else None,
        "accept_rate": kept / progress["decided"] if progress["decided"] else None,
        "reject_rate": (
            progress[Landslide.Review.REJECTED] / progress["decided"]
            if progress["decided"]
            else None
        ),
        "reviewers": sorted(reviewers.values(), key=lambda e: (e["round"], e["reviewer"] or "")),
        "assignments": review_assignment_progress(inventory=inventory),
        "agreement": review_agreement(inventory=inventory),
    }


def review_assignment_progress(*, inventory: Inventory) -> list[dict]:
    """Per assignment (reviewer and area): how many of its polygons are decided in its round."""
    out = []
    assignments = ReviewAssignment.objects.filter(inventory=inventory).select_related("reviewer")
    for a in assignments:
        total = a.landslides.count()
        if a.round == ReviewRound.FIRST:
            decided = a.landslides.exclude(review_state=Landslide.Review.NONE).count()
        else:
            decided = ReviewDecision.objects.filter(
                landslide__in=a.landslides.all(), round=a.round, reviewer=a.reviewer, current=True
            ).count()
        out.append(
            {
                "id": a.pk,
                "reviewer": a.reviewer.get_username(),
                "round": a.round,
                "area": a.area.extent if a.area else None,
                "total": total,
                "decided": decided,
                "fraction": decided / total if total else 0.0,
            }
        )
    return out
