"""Background jobs: started by services, sent to Celery by name, run under a lease, reaped.

A Celery task (`inventories.tasks`) only hands a job id and the runner table
to `job_execute`; what a kind of job does lives in its feature service, and
what it was asked to do in its params class (`params`). Progress, log and
outcome are written on the Job row, so every page and API client sees the
same state. Nothing here imports a task or a feature service.
"""

from inventories.services.jobs.context import Heartbeat, JobCancelled, JobContext, JobDetached
from inventories.services.jobs.params import (
    BuildsVersion,
    ExportModelParams,
    ExportParams,
    FromUpload,
    ImportInventoryParams,
    ImportSceneParams,
    JobParams,
    PredictParams,
    PretrainParams,
    ReportParams,
    TrainParams,
    job_params,
    upload_of,
    version_built_by,
)
from inventories.services.jobs.queue import (
    FINISH_PREDICTION,
    PREDICT_BLOCK,
    REAP_JOBS,
    RUN_DEFAULT_JOB,
    RUN_GPU_JOB,
    job_cancel,
    job_create,
    send,
    task_prefix,
)
from inventories.services.jobs.reaper import jobs_reap, jobs_resend
from inventories.services.jobs.run import Runner, job_continue, job_execute, job_fail

__all__ = [
    "FINISH_PREDICTION",
    "PREDICT_BLOCK",
    "REAP_JOBS",
    "RUN_DEFAULT_JOB",
    "RUN_GPU_JOB",
    "BuildsVersion",
    "ExportModelParams",
    "ExportParams",
    "FromUpload",
    "Heartbeat",
    "ImportInventoryParams",
    "ImportSceneParams",
    "JobCancelled",
    "JobContext",
    "JobDetached",
    "JobParams",
    "PredictParams",
    "PretrainParams",
    "ReportParams",
    "Runner",
    "TrainParams",
    "job_cancel",
    "job_continue",
    "job_create",
    "job_execute",
    "job_fail",
    "job_params",
    "jobs_reap",
    "jobs_resend",
    "send",
    "task_prefix",
    "upload_of",
    "version_built_by",
]
