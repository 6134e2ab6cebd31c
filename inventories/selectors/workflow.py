"""Where a project stands in the mapping loop, and what to do next (the project page).

The loop is the one the app is built for: imagery, reference landslides,
mapped extents (where the references are complete), a trained model, its
prediction reviewed, an accuracy report. Each step's state is counted from
the database; the next action is the first step not done. Who may take it
matters: a step the user's role cannot do is named with the role that does
it, so nobody is sent to a form that would refuse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from inventories.models import (
    AccuracyReport,
    Inventory,
    Landslide,
    MappedExtent,
    ModelVersion,
    Project,
    Role,
    Scene,
)
from inventories.permissions import ALLOWED, Action, can

# Training refuses without these two; a test extent is optional (reports can use it).
NEEDED_SPLITS = (MappedExtent.Split.TRAIN, MappedExtent.Split.VALIDATION)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    state: str
    done: bool


@dataclass(frozen=True)
class NextAction:
    """The first step not done: what to do, who may, and what it points at.

    `kind` says which page does it (upload, draw, extents, train, wait,
    predict, review, report); `target` is the model version (predict) or the
    predicted inventory (review) it is about, for the page's link; `allowed`
    is False where the user's role cannot do it, and `who` names who can.
    """

    step: str
    kind: str
    text: str
    allowed: bool
    who: str
    target: int | None = None


@dataclass(frozen=True)
class Workflow:
    steps: list[Step]
    next: NextAction | None


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _counts(project: Project) -> dict[str, int]:
    """Every figure of the card, each counted once (distinct where a join could repeat rows)."""
    scenes = Scene.objects.filter(project=project).aggregate(
        scenes=Count("pk"), optical=Count("pk", filter=Q(kind=Scene.Kind.OPTICAL))
    )
    references = Inventory.objects.filter(project=project, kind=Inventory.Kind.REFERENCE)
    refs = references.aggregate(
        inventories=Count("pk", distinct=True), polygons=Count("landslides", distinct=True)
    )
    extents = MappedExtent.objects.filter(inventory__in=references).aggregate(
        **{s: Count("pk", filter=Q(split=s)) for s in MappedExtent.Split.values}
    )
    models = ModelVersion.objects.filter(
        project=project, kind=ModelVersion.Kind.SEGMENTATION
    ).aggregate(
        ready=Count("pk", filter=Q(status=ModelVersion.Status.READY)),
        training=Count("pk", filter=Q(status=ModelVersion.Status.TRAINING)),
    )
    predicted = Inventory.objects.filter(project=project, kind=Inventory.Kind.PREDICTED)
    awaiting = Landslide.objects.filter(
        inventory__in=predicted, review_state=Landslide.Review.NONE
    ).aggregate(polygons=Count("pk"), inventories=Count("inventory", distinct=True))
    return {
        **scenes,
        "reference_inventories": refs["inventories"],
        "reference_polygons": refs["polygons"],
        **{f"extents_{s}": n for s, n in extents.items()},
        "models_ready": models["ready"],
        "models_training": models["training"],
        "predicted_inventories": predicted.count(),
        "awaiting": awaiting["polygons"],
        "awaiting_inventories": awaiting["inventories"],
        "reports": AccuracyReport.objects.filter(project=project).count(),
    }


def _steps(c: dict[str, int]) -> list[Step]:
    splits = " / ".join(
        f"{label.lower()} {c[f'extents_{value}']}" for value, label in MappedExtent.Split.choices
    )

    def inventories(n: int) -> str:
        return _plural(n, "predicted inventory", "predicted inventories")

    if c["awaiting"]:
        review = f"{_plural(c['awaiting'], 'polygon')} awaiting review in "
        review += inventories(c["awaiting_inventories"])
    elif c["predicted_inventories"]:
        review = f"none awaiting ({inventories(c['predicted_inventories'])}, all reviewed)"
    else:
        review = "no prediction yet"
    return [
        Step(
            "imagery",
            "Imagery",
            f"{_plural(c['scenes'], 'scene')} ({c['optical']} optical)",
            c["optical"] > 0,
        ),
        Step(
            "references",
            "Reference polygons",
            f"{_plural(c['reference_polygons'], 'polygon')} in "
            f"{_plural(c['reference_inventories'], 'inventory', 'inventories')}",
            c["reference_polygons"] > 0,
        ),
        Step(
            "extents",
            "Mapped extents",
            f"{splits} (training needs train and validation)",
            all(c[f"extents_{s}"] > 0 for s in NEEDED_SPLITS),
        ),
        Step(
            "models",
            "Models",
            f"{c['models_ready']} ready, {c['models_training']} training",
            c["models_ready"] > 0,
        ),
        Step(
            "review",
            "Predictions awaiting review",
            review,
            c["predicted_inventories"] > 0 and c["awaiting"] == 0,
        ),
        Step("reports", "Accuracy reports", _plural(c["reports"], "report"), c["reports"] > 0),
    ]


def _first_ready_model(project: Project) -> int | None:
    """The promoted model if there is one, else the newest ready one: what to predict with."""
    return (
        ModelVersion.objects.filter(
            project=project,
            kind=ModelVersion.Kind.SEGMENTATION,
            status=ModelVersion.Status.READY,
        )
        .order_by("-promoted", "-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _awaiting_inventory(project: Project) -> int | None:
    """The newest predicted inventory with polygons nobody has decided yet."""
    return (
        Inventory.objects.filter(
            project=project,
            kind=Inventory.Kind.PREDICTED,
            landslides__review_state=Landslide.Review.NONE,
        )
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _next(project: Project, c: dict[str, int]) -> tuple[str, str, str, Action, int | None] | None:
    if not c["optical"]:
        what = "upload an optical scene" if c["scenes"] else "upload imagery"
        return "imagery", "upload", what, Action.MANAGE, None
    if not c["reference_polygons"]:
        return "references", "draw", "draw or import reference landslides", Action.EDIT, None
    missing = [s.label.lower() for s in NEEDED_SPLITS if not c[f"extents_{s.value}"]]
    if missing:
        text = f"mark {' and '.join(missing)} mapped extents"
        return "extents", "extents", text, Action.EDIT, None
    if not c["models_ready"]:
        if c["models_training"]:
            return "models", "wait", "wait for the training to finish", Action.VIEW, None
        return "models", "train", "train a model", Action.MANAGE, None
    if not c["predicted_inventories"]:
        model = _first_ready_model(project)
        return "review", "predict", "run a prediction", Action.MANAGE, model
    if c["awaiting"]:
        text = f"review {_plural(c['awaiting'], 'predicted polygon')}"
        return "review", "review", text, Action.REVIEW, _awaiting_inventory(project)
    if not c["reports"]:
        return "reports", "report", "make an accuracy report", Action.MANAGE, None
    return None


def _who(action: Action) -> str:
    """The least role that may do `action`, as the card names it ("a reviewer or an admin")."""
    roles = [label.lower() for value, label in Role.choices if value in ALLOWED[action]]
    return " or ".join(f"an {r}" if r[0] in "aeiou" else f"a {r}" for r in roles)


def project_workflow(*, project: Project, user) -> Workflow:
    """The project's steps with their counts, and the next action as `user` may take it."""
    counts = _counts(project)
    found = _next(project, counts)
    if found is None:
        return Workflow(steps=_steps(counts), next=None)
    step, kind, text, action, target = found
    next_action = NextAction(
        step=step,
        kind=kind,
        text=text,
        allowed=can(user, project, action),
        who=_who(action),
        target=target,
    )
    return Workflow(steps=_steps(counts), next=next_action)
