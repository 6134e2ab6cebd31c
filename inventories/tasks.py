"""Celery tasks: thin wrappers that hand a job id to `job_run`.

acks_late with reject_on_worker_lost: a job whose worker dies is delivered
again and resumes; `job_run` counts the attempts and fails it past the limit.
"""

from celery import shared_task
from celery.signals import worker_ready

from inventories.services.jobs import job_run, jobs_reap


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_default_job(self, job_id: int) -> None:
    job_run(job_id, worker=self.request.hostname or "")


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_gpu_job(self, job_id: int) -> None:
    job_run(job_id, worker=self.request.hostname or "")


@worker_ready.connect
def _reap_jobs_of_previous_run(sender, **kwargs) -> None:
    """Jobs still marked running under this worker's name died with its previous run."""
    jobs_reap(worker=sender.hostname)
