# ruff: noqa: F811 - fixtures imported from the prediction tests are arguments here
"""The reaper leaves a split prediction alone while its blocks wait in the queue.

Once a split job has sent its blocks, nothing beats its row until a worker
takes one: a GPU worker busy elsewhere, or restarted, leaves the job silent
for as long as the blocks wait. The reaper (beat's `reap_jobs`, and each
worker as it starts) took that silence for a dead worker and requeued the
job: it planned and sent every block again, and the waiting ones ran for
nothing. Now the blocks' task ids carry the run's prefix, the reaper finds
them in Redis and leaves the job running; a split job whose messages are
truly gone (Redis restarted without persistence) is still requeued.

Each test has a Redis of its own, where it reads what was queued.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis as redis_client
from django.utils import timezone

from inventories.models import Job
from inventories.services.files import media_path
from inventories.services.jobs import jobs_reap
from inventories.tasks import job_run
from tests.conftest import wait_for
from tests.inventories.test_job_delivery import broker_at
from tests.inventories.test_job_faults import (
    PrivateRedis,
    start_celery,
    stop_celery,
    worker_env,
)
from tests.inventories.test_prediction import target_scenes, trained, version  # noqa: F401

pytestmark = [pytest.mark.slow]


def fanned_out(api, version, scene_ids, redis: PrivateRedis, worker: str) -> Job:
    """A split prediction started through the API whose run sent its blocks, none taken yet.

    The GPU worker `worker` took the job's message and ran it (here, in this
    process, the task's own function), then stopped: its blocks wait in Redis.
    """
    answer = api.alice.post(
        f"/api/models/{version.pk}/predict/", {"scenes": scene_ids, "split": True}, format="json"
    )
    assert answer.status_code == 202, answer.content
    job_id = answer.json()["id"]
    (message,) = redis.messages("run_gpu_job")
    assert message["args"] == [job_id]
    redis_client.Redis(port=redis.port).delete("gpu")  # taken by the worker
    job_run(job_id, worker=worker)
    job = Job.objects.get(pk=job_id)
    assert job.state == "running" and job.attempts == 1, job.error + job.log
    assert len(redis.messages("predict_block")) == job.result["blocks"] >= 3
    # Nothing has beaten the row for an hour: to the reaper it looks like a dead worker's.
    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    return job


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_split_prediction_whose_blocks_wait_in_the_queue_is_not_reaped(
    people, api, version, target_scenes, settings, tmp_path
):
    settings.SCARP_PREDICT_BLOCK_SIZE = 128  # the 384 px scene splits into several blocks
    scene_ids, _ = target_scenes
    redis = PrivateRedis(tmp_path)
    redis.start()
    name = f"split{redis.port}@{socket.gethostname()}"
    worker = None
    try:
        with broker_at(redis.url):
            job = fanned_out(api, version, scene_ids, redis, name)
            blocks = redis.messages("predict_block")
            assert all(b["id"].startswith(f"job-{job.pk}-{job.lease}-block-") for b in blocks)

            assert jobs_reap() == 0  # what beat runs every minute
            after = Job.objects.get(pk=job.pk)
            assert after.state == "running" and after.lease == job.lease
            assert "requeued" not in after.log
            assert len(redis.messages("predict_block")) == len(blocks)
            assert redis.messages("run_gpu_job") == []

            # The GPU worker comes back under its name: as it starts it reaps the jobs of its
            # earlier run (this one is listed as its own), then takes the waiting blocks.
            env = worker_env(redis, SCARP_PREDICT_BLOCK_SIZE="128")
            logs = Path(os.environ.get("SCARP_TEST_ARTIFACTS", tmp_path))
            worker = start_celery(
                ["worker", "-Q", "default,gpu", "-c", "1", "-n", name,
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env, logs / "split-reaping-worker.log",
            )  # fmt: skip
            done = wait_for(
                lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(),
                timeout=300,
            )
    finally:
        if worker is not None:
            stop_celery(worker)
        redis.stop()
    assert done.state == "succeeded", done.error + done.log
    assert done.attempts == 1 and "requeued" not in done.log and "Attempt 2" not in done.log
    assert done.log.count("merging") == 1
    assert Job.objects.filter(pk=job.pk, result__inventory_id__isnull=False).exists()
    assert not Path(media_path(f"jobs/{job.pk}")).exists()


@pytest.mark.django_db(transaction=True)
def test_a_split_prediction_whose_messages_are_gone_is_requeued(
    people, api, version, target_scenes, settings, tmp_path
):
    settings.SCARP_PREDICT_BLOCK_SIZE = 128
    scene_ids, _ = target_scenes
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        with broker_at(redis.url):
            job = fanned_out(api, version, scene_ids, redis, "gpu@lost")
            redis_client.Redis(port=redis.port).flushdb()  # as a restart without persistence

            assert jobs_reap() == 1
            after = Job.objects.get(pk=job.pk)
            assert after.state == "queued" and after.lease == ""
            assert "Worker lost; requeued." in after.log
            (message,) = redis.messages("run_gpu_job")
            assert message["args"] == [job.pk]
    finally:
        redis.stop()
