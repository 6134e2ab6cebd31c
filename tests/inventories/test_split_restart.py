# ruff: noqa: F811 - fixtures imported from the prediction tests are arguments here
"""A split prediction run again after its worker was lost keeps the blocks already done.

Before, a run that took a split job over (the reaper requeued it: its worker
died with the queue's messages) planned every block again, sent
them all and predicted them all. Now the blocks the row records as done are
moved into the new run's folder and only the others are sent.

The job is started through the API and each step runs here, in the order the
workers would run them; what the app sends goes to a Redis of this test
alone, where the test reads which blocks were queued.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import redis as redis_client
from django.utils import timezone

from inventories.models import Job, Scene
from inventories.services.files import media_path
from inventories.services.jobs import job_continue, jobs_reap
from inventories.services.prediction import block_predict, blocks_finish
from inventories.tasks import job_run
from tests.inventories.test_job_delivery import broker_at
from tests.inventories.test_job_faults import PrivateRedis
from tests.inventories.test_prediction import target_scenes, trained, version  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def sent(redis: PrivateRedis, task: str) -> list[list]:
    """The arguments of every `task` message waiting in the private Redis's queues."""
    return [message["args"] for message in redis.messages(task)]


def identity(path: str) -> tuple[int, int]:
    """A file's inode and modification time: equal only if it was never written again."""
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns


def test_a_restarted_split_prediction_keeps_the_blocks_already_done(
    people, api, version, target_scenes, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SCARP_PREDICT_BLOCK_SIZE = 128  # the 384 px scene splits into several blocks
    scene_ids, _ = target_scenes
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        with broker_at(redis.url):
            with django_capture_on_commit_callbacks(execute=True):
                answer = api.alice.post(
                    f"/api/models/{version.pk}/predict/",
                    {"scenes": scene_ids, "split": True},
                    format="json",
                )
            assert answer.status_code == 202, answer.content
            job_id = answer.json()["id"]
            with django_capture_on_commit_callbacks(execute=True):
                job_run(job_id, worker="gpu@first")
            first = Job.objects.get(pk=job_id).lease
            blocks = [args for args in sent(redis, "predict_block") if args[2] == first]
            total, half = len(blocks), len(blocks) // 2
            assert total >= 3
            for _, block, lease in blocks[:half]:
                with django_capture_on_commit_callbacks(execute=True):
                    block_predict(job_id, block, lease)
            done = Job.objects.get(pk=job_id).result["done"]
            before = {Path(p).name: identity(p) for p in done}
            assert len(before) == half

            # The first run's worker is lost, and Redis with the waiting blocks (a restart
            # without persistence): no heartbeat for an hour, the reaper requeues it.
            redis_client.Redis(port=redis.port).flushdb()
            Job.objects.filter(pk=job_id).update(
                heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
            )
            with django_capture_on_commit_callbacks(execute=True):
                assert jobs_reap() >= 1
            assert Job.objects.get(pk=job_id).state == "queued"
            with django_capture_on_commit_callbacks(execute=True):
                job_run(job_id, worker="gpu@second")

            job = Job.objects.get(pk=job_id)
            second = job.lease
            assert second != first and job.attempts == 2
            assert f"Kept {half} of {total} blocks an earlier run had predicted." in job.log
            again = [args for args in sent(redis, "predict_block") if args[2] == second]
            assert sorted(b["index"] for _, b, _ in again) == sorted(
                b["index"] for _, b, _ in blocks[half:]
            )
            # The kept blocks are the very files the first run wrote, now in the second's folder.
            kept = job.result["done"]
            assert {Path(p).name: identity(p) for p in kept} == before
            assert all(f"blocks-{second}" in p for p in kept)

            for _, block, lease in again:
                with django_capture_on_commit_callbacks(execute=True):
                    block_predict(job_id, block, lease)
            (merge,) = sent(redis, "finish_prediction")
            assert merge == [job_id, second]
            with django_capture_on_commit_callbacks(execute=True):  # the job folder's sweep
                job_continue(job_id, blocks_finish, lease=second)
            split = Job.objects.get(pk=job_id)
            assert split.state == "succeeded", split.error + split.log

            # The same map as one worker predicting the whole scene.
            with django_capture_on_commit_callbacks(execute=True):
                answer = api.alice.post(
                    f"/api/models/{version.pk}/predict/", {"scenes": scene_ids}, format="json"
                )
            job_run(answer.json()["id"], worker="gpu@single")
            single = Job.objects.get(pk=answer.json()["id"])
            assert single.state == "succeeded", single.error
    finally:
        redis.stop()
    one, many = (Scene.objects.get(pk=j.result["probability_scene_id"]) for j in (single, split))
    with rasterio.open(one.path) as a, rasterio.open(many.path) as b:
        assert np.array_equal(a.read(1), b.read(1))
    assert single.result["landslides"] == split.result["landslides"]
    assert not Path(media_path(f"jobs/{job_id}")).exists()
