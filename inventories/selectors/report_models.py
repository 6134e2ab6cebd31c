"""Which model made each compared report's prediction: version, family, architecture, training.

A comparison puts model families side by side (U-Net family, Siamese change
detection, Mask R-CNN, versions fine-tuned from a pretraining); a reader has
to see which column is which family before the scores mean anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.urls import reverse

from inventories.models import AccuracyReport, Inventory, ModelVersion
from mlcore.models.registry import ARCHITECTURES

HAND_MADE = "Hand-made / imported"


@dataclass(frozen=True)
class ModelOrigin:
    """What made one report's predicted inventory; `version` is None when no model did."""

    version: ModelVersion | None
    url: str | None
    family: str
    architecture: str
    summary: str
    training_seconds: float | None
    validation_f1: float | None

    def as_dict(self) -> dict:
        v = self.version
        return {
            "version": {"id": v.pk, "name": v.name, "kind": v.kind} if v else None,
            "family": self.family,
            "architecture": v.architecture if v else None,
            "encoder": (v.encoder or None) if v else None,
            "pretrained_from": v.pretrained_from_id if v else None,
            "pretraining_method": _pretraining_record(v).get("method") if v else None,
            "training_seconds": self.training_seconds,
            "validation_f1": self.validation_f1,
        }


def report_model_origins(reports: Sequence[AccuracyReport]) -> list[ModelOrigin]:
    """One origin per report, in the reports' order."""
    return [model_origin(report.predicted) for report in reports]


def model_origin(inventory: Inventory) -> ModelOrigin:
    version = inventory.model_version
    if version is None:
        # A predicted inventory without a version was imported, or its version was deleted.
        family = HAND_MADE
        if inventory.kind == Inventory.Kind.PREDICTED:
            family += " (no model version recorded)"
        return ModelOrigin(None, None, family, "", "", None, None)
    spec = ARCHITECTURES.get(version.architecture)
    f1 = version.metrics.get("f1")
    return ModelOrigin(
        version=version,
        url=reverse("model-detail", args=[version.project_id, version.pk]),
        family=model_family(version),
        architecture=(
            f"{version.architecture} / {version.encoder}"
            if version.encoder
            else version.architecture
        ),
        summary=spec.summary if spec else "",
        training_seconds=training_seconds(version.metrics),
        validation_f1=f1 if isinstance(f1, int | float) else None,
    )


def model_family(version: ModelVersion) -> str:
    """E.g. "Instances (Mask R-CNN), fine-tuned from mae-v1 (masked)"."""
    record = _pretraining_record(version)
    if version.kind == ModelVersion.Kind.PRETRAINING:
        method = record.get("method")
        return "Self-supervised pretraining" + (f" ({method})" if method else "")
    if version.architecture in ARCHITECTURES:
        family = ARCHITECTURES[version.architecture].label
    else:
        family = f"Unknown architecture {version.architecture!r}"
    source = version.pretrained_from
    if source is None and not version.pretraining:
        return family
    # The record outlives a deleted pretraining version, so the start is still told.
    start = source.name if source else "a deleted pretraining"
    method = record.get("method")
    return f"{family}, fine-tuned from {start}" + (f" ({method})" if method else "")


def training_seconds(metrics: dict) -> float | None:
    """The sum of the epochs' `seconds`; None when the history has none (an old version)."""
    seconds = [
        h["seconds"]
        for h in metrics.get("history") or []
        if isinstance(h, dict) and isinstance(h.get("seconds"), int | float)
    ]
    return float(sum(seconds)) if seconds else None


def _pretraining_record(version: ModelVersion) -> dict:
    """The version's own record, else its pretraining's (an older fine-tune kept none)."""
    if version.pretraining:
        return version.pretraining
    source = version.pretrained_from
    return source.pretraining if source else {}
