"""Faults with real processes: a worker killed mid-write, Redis restarted, the database cut.

Each job ends retried and succeeded (or failed with a message), never running,
never half-written, and leaves no orphan file. The Redis test starts its OWN
Redis on a free port (and its own worker and beat on it): the shared Redis
that every other test uses is never stopped. The database test closes only
the test database to connections for a few seconds and cuts the worker's.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest
import redis as redis_client
from django.conf import settings

from inventories.models import Job, Scene
from tests.conftest import ROOT, wait_for
from tests.factories.rasters import write_geotiff
from tests.inventories.test_job_delivery import broker_at
from tests.inventories.test_jobs import children_of, upload, uploads_left

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def assert_no_orphans(media: Path) -> None:
    """Every file under scenes/ is a stored Scene's; no upload, no job folder is left."""
    stored = {str(getattr(s.file, "name", s.file)) for s in Scene.objects.all()}
    folder = media / "scenes"
    scenes = {f"scenes/{f}" for f in files_under(folder)} if folder.exists() else set()
    assert scenes == stored
    assert uploads_left() == []
    assert not (media / "jobs").exists() or files_under(media / "jobs") == set()


def writing_cog(media: Path) -> bool:
    """True once a scene's folder exists: _store_cog makes it right before the COG write."""
    folder = media / "scenes"
    return folder.exists() and any(p.is_dir() for p in folder.iterdir())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A Redis of this test alone (own port, own folder, nothing persisted)."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.folder), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: self.ping(), timeout=20, interval=0.1)

    def ping(self) -> bool:
        return (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            == "PONG"
        )

    def messages(self, task: str) -> list[dict]:
        """The id and arguments of every `task` message waiting in this Redis's queues."""
        client = redis_client.Redis(port=self.port)
        found = []
        for queue in ("gpu", "default"):
            for raw in client.lrange(queue, 0, -1):
                message = json.loads(raw)
                if message["headers"]["task"].endswith(task):
                    args = json.loads(base64.b64decode(message["body"]))[0]
                    found.append({"id": message["headers"]["id"], "args": args})
        return found

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM with --save "": nothing is kept
            self.proc.wait(timeout=20)
            self.proc = None


def worker_env(redis: PrivateRedis, **settings_: str) -> dict[str, str]:
    """The environment of a worker on `redis` and this test's database and media."""
    env = dict(os.environ)
    base = env["DATABASE_URL"].rsplit("/", 1)[0]
    env.update(
        DATABASE_URL=f"{base}/{settings.DATABASES['default']['NAME']}",
        CELERY_BROKER_URL=redis.url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        SCARP_JOB_HEARTBEAT_SECONDS="1",
        **settings_,
    )
    return env


def start_celery(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "webapp", *args, "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return proc


def stop_celery(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def private_broker(tmp_path, django_db_setup):
    """Own Redis, a worker on both queues and beat running the reaper every second."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    env = worker_env(
        redis,
        SCARP_JOB_STALE_SECONDS="10",
        SCARP_JOB_RESEND_SECONDS="3",
        SCARP_JOB_REAP_SECONDS="1",
    )
    logs = Path(os.environ.get("SCARP_TEST_ARTIFACTS", tmp_path))
    worker_log = logs / "fault-worker.log"
    worker = start_celery(
        ["worker", "-Q", "default,gpu", "-c", "2", "-n", f"fault{redis.port}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env, worker_log,
    )  # fmt: skip
    beat = start_celery(["beat", "-s", str(tmp_path / "beat-schedule")], env, logs / "beat.log")
    try:
        wait_for(lambda: "ready." in worker_log.read_text(), timeout=300)
        with broker_at(redis.url):
            yield redis
    finally:
        stop_celery(beat)
        stop_celery(worker)
        redis.stop()


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_loses_no_job_the_queued_one_is_sent_again(
    people, api, private_broker, tmp_path
):
    rng = np.random.default_rng(3)
    big = write_geotiff(
        tmp_path / "big.tif", rng.integers(0, 4000, size=(4, 2500, 2500), dtype=np.uint16)
    )
    small = write_geotiff(tmp_path / "small.tif", np.full((3, 64, 64), 120, dtype="uint8"))
    url = f"/api/projects/{people.a.pk}/scenes/upload/"
    first = api.alice.post(url, {"file": upload(big)}, format="multipart").json()["id"]
    wait_for(lambda: Job.objects.filter(pk=first, state="running").exists(), interval=0.05)
    # Both worker processes busy, so the second job waits in Redis.
    blocker = api.alice.post(url, {"file": upload(big)}, format="multipart").json()["id"]
    wait_for(lambda: Job.objects.filter(pk=blocker, state="running").exists(), interval=0.05)
    queued = api.alice.post(url, {"file": upload(small)}, format="multipart").json()["id"]
    assert Job.objects.get(pk=queued).state == "queued"
    private_broker.stop()  # its queue, and the queued job's message, are gone
    private_broker.start()
    ids = [first, blocker, queued]

    def all_ended() -> list[Job] | None:
        jobs = list(Job.objects.filter(pk__in=ids).order_by("pk"))
        return jobs if all(not j.is_active for j in jobs) else None

    ended = wait_for(all_ended, timeout=240, interval=0.5)
    assert [j.state for j in ended] == ["succeeded"] * 3, [j.error for j in ended]
    lost = Job.objects.get(pk=queued)
    assert lost.sends >= 2 and "sent again" in lost.log
    assert_no_orphans(Path(settings.MEDIA_ROOT))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_a_cog_write_leaves_no_half_written_file(
    people, api, celery_worker, tmp_path
):
    rng = np.random.default_rng(7)
    image = write_geotiff(
        tmp_path / "big.tif", rng.integers(0, 4000, size=(4, 3000, 3000), dtype=np.uint16)
    )
    media = Path(settings.MEDIA_ROOT)
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/", {"file": upload(image)}, format="multipart"
    )
    job_id = response.json()["id"]
    # Kill once the COG is being written: its folder is made just before the write.
    wait_for(lambda: writing_cog(media), timeout=240, interval=0.05)
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=180,
    )
    assert job.state == "succeeded", job.error
    assert job.attempts == 2 and "previous worker was lost" in job.log
    assert Scene.objects.filter(project=people.a).count() == 1
    assert_no_orphans(media)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_goes_away_for_seconds_runs_its_step_again(
    people, api, celery_worker, tmp_path
):
    """The worker's connections are cut and refused for 4 s, as a stopped PostgreSQL does.

    Only the test database is closed to new connections (ALLOW_CONNECTIONS),
    not the shared server, so no one else's tests notice.
    """
    from django.db import connection

    rng = np.random.default_rng(11)
    image = write_geotiff(
        tmp_path / "big.tif", rng.integers(0, 4000, size=(4, 3000, 3000), dtype=np.uint16)
    )
    media = Path(settings.MEDIA_ROOT)
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/", {"file": upload(image)}, format="multipart"
    )
    job_id = response.json()["id"]
    wait_for(lambda: writing_cog(media), timeout=240, interval=0.05)
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (ours,) = cursor.fetchone()
    admin = psycopg.connect(
        host=connection.settings_dict["HOST"], port=connection.settings_dict["PORT"],
        user=connection.settings_dict["USER"], password=connection.settings_dict["PASSWORD"],
        dbname="postgres", autocommit=True,
    )  # fmt: skip
    with admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [name, ours],
            )
            threading.Event().wait(4)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=240,
    )
    assert job.state == "succeeded", job.error + job.log
    assert job.attempts == 2 and "database connection was lost" in job.log
    assert Scene.objects.filter(project=people.a).count() == 1
    assert_no_orphans(media)
