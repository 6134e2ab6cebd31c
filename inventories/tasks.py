"""Celery tasks: thin wrappers that hand a job id to `job_run`.

acks_late with reject_on_worker_lost: a job whose worker dies is delivered
again and resumes; `job_run` counts the attempts and fails it past the limit.
Each delivery takes its own lease on the job (see `inventories.services.jobs`).
"""

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from celery.signals import worker_ready

from inventories.services.jobs import job_continue, job_fail, job_run, jobs_reap


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


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_default_job(self, job_id: int) -> None:
    job_run(job_id, worker=self.request.hostname or "")


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_gpu_job(self, job_id: int) -> None:
    with _children_allowed():
        job_run(job_id, worker=self.request.hostname or "")


@worker_ready.connect
def _reap_jobs_of_previous_run(sender, **kwargs) -> None:
    """Jobs still marked running under this worker's name died with its previous run."""
    jobs_reap(worker=sender.hostname)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def predict_block(self, job_id: int, block: dict, lease: str = "") -> None:
    """One window block of a split prediction; any worker on the gpu queue may take it."""
    from inventories.services.prediction import block_predict

    try:
        with _children_allowed():
            block_predict(job_id, block, lease)
    except Exception as exc:
        job_fail(job_id, f"A prediction block failed: {exc}", lease=lease)
        raise


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def finish_prediction(self, job_id: int, lease: str = "") -> None:
    """After the last block: merge, vectorise and store, as a single run would."""
    from inventories.services.prediction import blocks_finish

    job_continue(job_id, blocks_finish, lease=lease)


@shared_task(ignore_result=True)
def reap_jobs() -> None:
    """Scheduled by Celery beat: requeue jobs whose heartbeat stopped, re-send lost ones."""
    jobs_reap()
