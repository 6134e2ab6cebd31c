"""Celery tasks, on top of everything: each hands a job id to one service.

The runner table says which service function runs each kind of job; the
jobs package below sends these tasks by name and never imports this module.
acks_late with reject_on_worker_lost: a job whose worker dies is delivered
again and resumes; `job_execute` counts the attempts and fails it past the
limit. Each delivery takes its own lease on the job (see
`inventories.services.jobs`).
"""

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from celery.signals import worker_ready

from inventories.models import Job
from inventories.services import jobs
from inventories.services.exports import run_export
from inventories.services.model_exports import run_onnx_export
from inventories.services.prediction import block_predict, blocks_finish, run_predict
from inventories.services.pretraining import run_pretrain
from inventories.services.reports import run_report
from inventories.services.training import run_train
from inventories.services.uploads import run_import_inventory, run_import_scene

RUNNERS: dict[str, jobs.Runner] = {
    Job.Kind.IMPORT_SCENE: run_import_scene,
    Job.Kind.IMPORT_INVENTORY: run_import_inventory,
    Job.Kind.REPORT: run_report,
    Job.Kind.TRAIN: run_train,
    Job.Kind.PRETRAIN: run_pretrain,
    Job.Kind.PREDICT: run_predict,
    Job.Kind.EXPORT_INVENTORY: run_export,
    Job.Kind.EXPORT_MODEL: run_onnx_export,
}


def job_run(job_id: int, *, worker: str = "") -> None:
    """Run a job to its end with the runner for its kind, and record the outcome."""
    jobs.job_execute(job_id, RUNNERS, worker=worker)


@contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a prefork child start processes (PyTorch DataLoader workers) for one task.

    Celery's pool children are daemonic, and multiprocessing refuses children
    to daemons. The loader joins its workers before training returns, so
    nothing outlives the task.
    """
    process = multiprocessing.current_process()
    daemon = process._config.get("daemon")
    process._config["daemon"] = False
    try:
        yield
    finally:
        process._config["daemon"] = daemon


@shared_task(name=jobs.RUN_DEFAULT_JOB, bind=True, acks_late=True, reject_on_worker_lost=True)
def run_default_job(self, job_id: int) -> None:
    job_run(job_id, worker=self.request.hostname or "")


@shared_task(name=jobs.RUN_GPU_JOB, bind=True, acks_late=True, reject_on_worker_lost=True)
def run_gpu_job(self, job_id: int) -> None:
    with _children_allowed():
        job_run(job_id, worker=self.request.hostname or "")


@worker_ready.connect
def _reap_jobs_of_previous_run(sender, **kwargs) -> None:
    """Jobs still marked running under this worker's name died with its previous run."""
    jobs.jobs_reap(worker=sender.hostname)


@shared_task(name=jobs.PREDICT_BLOCK, bind=True, acks_late=True, reject_on_worker_lost=True)
def predict_block(self, job_id: int, block: dict, lease: str = "") -> None:
    """One window block of a split prediction; any worker on the gpu queue may take it."""
    try:
        with _children_allowed():
            block_predict(job_id, block, lease)
    except Exception as exc:
        jobs.job_fail(job_id, f"A prediction block failed: {exc}", lease=lease)
        raise


@shared_task(name=jobs.FINISH_PREDICTION, bind=True, acks_late=True, reject_on_worker_lost=True)
def finish_prediction(self, job_id: int, lease: str = "") -> None:
    """After the last block: merge, vectorise and store, as a single run would."""
    jobs.job_continue(job_id, blocks_finish, lease=lease)


@shared_task(name=jobs.REAP_JOBS, ignore_result=True)
def reap_jobs() -> None:
    """Scheduled by Celery beat: requeue jobs whose heartbeat stopped, re-send lost ones."""
    jobs.jobs_reap()
