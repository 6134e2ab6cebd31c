"""What each kind of job is asked to do: one dataclass per kind, written and read here only.

A service builds the params of the job it starts (`TrainParams(model_version=...)`)
and the runner reads them back with `Params.of(job)`; the JSON on the Job row
is their `to_json()`. A default lives on its field, never repeated by a reader.
Readers ignore keys they do not know, so a row written by an older version
still runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from inventories.models import Job


@dataclass(frozen=True, kw_only=True)
class JobParams:
    """The base of every kind's params; `job_kind` ties a class to its `Job.Kind`."""

    job_kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def of(cls, job: Job) -> Self:
        """The params of `job`, which must be of this class's kind."""
        if job.kind != cls.job_kind:
            raise TypeError(f"Job {job.pk} is a {job.kind} job, not {cls.job_kind}.")
        return cls.from_json(job.params or {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        return cls(**{k: _from_json(hints[k], v) for k, v in data.items() if k in known})


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _from_json(hint: Any, value: Any) -> Any:
    """Dates travel as ISO strings; every other field is JSON as it is."""
    if isinstance(value, str) and (hint is dt.date or dt.date in typing.get_args(hint)):
        return dt.date.fromisoformat(value)
    return value


@dataclass(frozen=True, kw_only=True)
class FromUpload(JobParams):
    """An import: the upload it holds (MEDIA_ROOT-relative) is removed when the job ends.

    Empty only on rows made by hand, which hold no upload.
    """

    upload: str = ""
    original_filename: str = ""


@dataclass(frozen=True, kw_only=True)
class BuildsVersion(JobParams):
    """A training or pretraining: it fills this version, settled when the job fails or stops."""

    model_version: int


@dataclass(frozen=True, kw_only=True)
class ImportSceneParams(FromUpload):
    job_kind: ClassVar[str] = Job.Kind.IMPORT_SCENE
    name: str = ""
    kind: str = "optical"
    phase: str = "post"
    band_names: list[str] = field(default_factory=list)
    acquired_on: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class ImportInventoryParams(FromUpload):
    job_kind: ClassVar[str] = Job.Kind.IMPORT_INVENTORY
    name: str
    kind: str = "reference"
    layer: str = ""


@dataclass(frozen=True, kw_only=True)
class TrainParams(BuildsVersion):
    job_kind: ClassVar[str] = Job.Kind.TRAIN


@dataclass(frozen=True, kw_only=True)
class PretrainParams(BuildsVersion):
    job_kind: ClassVar[str] = Job.Kind.PRETRAIN


@dataclass(frozen=True, kw_only=True)
class PredictParams(JobParams):
    job_kind: ClassVar[str] = Job.Kind.PREDICT
    model_version: int
    scenes: list[int]
    threshold: float | None = None
    min_area_m2: float = 0.0
    split: bool = False


@dataclass(frozen=True, kw_only=True)
class ReportParams(JobParams):
    """The evaluation area is a snapshot (GeoJSON, EPSG:4326) taken when the report was asked."""

    job_kind: ClassVar[str] = Job.Kind.REPORT
    predicted: int
    reference: int
    name: str
    iou_threshold: float
    area: dict[str, Any]
    area_source: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ExportParams(JobParams):
    job_kind: ClassVar[str] = Job.Kind.EXPORT_INVENTORY
    inventory_id: int
    format: str
    crs: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExportModelParams(JobParams):
    job_kind: ClassVar[str] = Job.Kind.EXPORT_MODEL
    model_version: int
    format: str = "onnx"


PARAMS: dict[str, type[JobParams]] = {
    cls.job_kind: cls
    for cls in (
        ImportSceneParams,
        ImportInventoryParams,
        TrainParams,
        PretrainParams,
        PredictParams,
        ReportParams,
        ExportParams,
        ExportModelParams,
    )
}


def job_params(job: Job) -> JobParams:
    """The typed params of any job, by its kind."""
    return PARAMS[job.kind].of(job)


def upload_of(job: Job) -> str:
    """The upload an import job holds (MEDIA_ROOT-relative); empty for other kinds."""
    if not issubclass(PARAMS[job.kind], FromUpload):
        return ""
    return PARAMS[job.kind].of(job).upload


def version_built_by(job: Job) -> int | None:
    """The version a training or pretraining job fills; None for other kinds."""
    if not issubclass(PARAMS[job.kind], BuildsVersion):
        return None
    return PARAMS[job.kind].of(job).model_version
