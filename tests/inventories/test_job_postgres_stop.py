"""A real PostgreSQL stopped and started again while a job runs: the job waits for it.

The fault tests beside this one cut the test database's connections; this one
stops the server itself (`pg_ctl stop -m fast`, what an operator or a crash
does), as the audit did on `make run`. It never touches the shared server:
the test makes a PostgreSQL+PostGIS cluster of its own (own port, own data
folder under /tmp, run as the postgres user when the tests run as root), a
Redis of its own, and serves the app on it with `manage.py runserver`, a
Celery worker and beat. Alice uploads a GeoTIFF over HTTP as she would from
the page, and reads the job back the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.conftest import ROOT, wait_for
from tests.factories.rasters import write_geotiff
from tests.inventories.test_job_faults import (
    PrivateRedis,
    files_under,
    free_port,
    start_celery,
    stop_celery,
)

# django_db: the test database is made (its tables are copied to the private server).
pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db]

PGBIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=None, key=lambda p: p.parent.name)


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A PostgreSQL+PostGIS cluster of this test alone, stopped and started at will."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="scarp-test-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgis://scarp:scarp@127.0.0.1:{self.port}/scarp"

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            as_postgres([str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True,
        )  # fmt: skip
        self.start()
        for sql, db in [
            ("CREATE ROLE scarp LOGIN SUPERUSER PASSWORD 'scarp'", "postgres"),
            ("CREATE DATABASE scarp OWNER scarp", "postgres"),
            ("CREATE EXTENSION postgis", "scarp"),
        ]:
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                 "-v", "ON_ERROR_STOP=1", "-qc", sql],
                check=True, capture_output=True,
            )  # fmt: skip

    def load_schema_of(self, source: dict) -> None:
        """The tables of a migrated database (the test database), copied over.

        Faster than migrating again: on the loaded 2-core machine a fresh
        `migrate` took 13 minutes, the copy takes seconds.
        """
        env = {**os.environ, "PGPASSWORD": str(source["PASSWORD"])}
        at = ["-h", str(source["HOST"]), "-p", str(source["PORT"]), "-U", str(source["USER"])]
        at += ["-d", str(source["NAME"]), "--no-owner", "--no-privileges"]
        schema = subprocess.run(
            ["pg_dump", *at, "--schema-only"], env=env, check=True, capture_output=True
        ).stdout
        rows = subprocess.run(
            ["pg_dump", *at, "--data-only", "-t", "django_migrations", "-t", "django_content_type",
             "-t", "auth_permission"],
            env=env, check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "scarp", "-d", "scarp",
             "-v", "ON_ERROR_STOP=1", "-q"],
            input=schema.replace(b"CREATE SCHEMA public;", b"") + rows,
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        subprocess.run(
            as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-l",
                         str(self.folder / "server.log"), "-w", "-o",
                         f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                         "-c fsync=off", "start"]),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=True, capture_output=True,
        )  # fmt: skip

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class Alice:
    """The project admin, over HTTP with her token, as the page's scripts call the API."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = ""):
        headers = {"Authorization": f"Token {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {"error": exc.read()[:500].decode(errors="replace")}

    def upload(self, project: int, path: Path) -> int:
        with path.open("rb") as handle:
            body = encode_multipart(BOUNDARY, {"file": handle})
        status, data = self.call(
            "POST", f"/api/projects/{project}/scenes/upload/", body, MULTIPART_CONTENT
        )
        assert status == 202, data
        return data["id"]

    def job(self, pk: int) -> dict:
        status, data = self.call("GET", f"/api/jobs/{pk}/")
        assert status == 200, data
        return data


SEED = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from inventories.models import Membership, Project, Role
alice = get_user_model().objects.create_user("alice", password="pw-alice")
project = Project.objects.create(name="Project A", trigger="earthquake")
Membership.objects.create(project=project, user=alice, role=Role.ADMIN)
print("SEEDED", project.pk, Token.objects.create(user=alice).key)
"""


@pytest.fixture
def stack(tmp_path, django_db_setup):
    """Private PostgreSQL and Redis; the app served on them: web server, worker, beat."""
    if PGBIN is None:
        pytest.skip("PostgreSQL is not installed")
    postgres, redis = PrivatePostgres(), PrivateRedis(tmp_path)
    media = tmp_path / "media"
    media.mkdir()
    procs: list[subprocess.Popen] = []
    logs = Path(os.environ.get("SCARP_TEST_ARTIFACTS", tmp_path))
    try:
        postgres.create()
        redis.start()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=postgres.url,
            CELERY_BROKER_URL=redis.url,
            MEDIA_ROOT=str(media),
            SCARP_JOB_HEARTBEAT_SECONDS="1",
            SCARP_JOB_STALE_SECONDS="10",
            SCARP_JOB_REAP_SECONDS="1",
            SCARP_JOB_RESEND_SECONDS="5",
            SCARP_JOB_DB_WAIT_SECONDS="120",
        )
        manage = [sys.executable, "manage.py"]
        postgres.load_schema_of(connection.settings_dict)  # the test database, migrated
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED], cwd=ROOT, env=env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        project, token = seeded.split("SEEDED", 1)[1].split()
        port = free_port()
        procs.append(
            subprocess.Popen(
                [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env,
                stdout=(logs / "pgstop-web.log").open("w"), stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
        worker_log = logs / "pgstop-worker.log"
        procs.append(
            start_celery(
                ["worker", "-Q", "default,gpu", "-c", "1", "-n", f"pgstop{postgres.port}@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env, worker_log,
            )
        )  # fmt: skip
        procs.append(
            start_celery(
                ["beat", "-s", str(tmp_path / "beat-schedule")], env, logs / "pgstop-beat.log"
            )
        )
        wait_for(lambda: "ready." in worker_log.read_text(), timeout=300)
        alice = Alice(f"http://127.0.0.1:{port}", token)
        wait_for(lambda: _answers(alice), timeout=120, interval=0.5)
        yield type(
            "Stack",
            (),
            {"postgres": postgres, "alice": alice, "project": int(project), "media": media},
        )
    finally:
        for proc in reversed(procs):
            stop_celery(proc)
        redis.stop()
        postgres.destroy()


def _answers(alice: Alice) -> bool:
    try:
        return alice.call("GET", "/api/projects/")[0] == 200
    except OSError:
        return False


def writing_cog(media: Path) -> bool:
    """True once a scene's folder exists: the import makes it right before the COG write."""
    folder = media / "scenes"
    return folder.exists() and any(p.is_dir() for p in folder.iterdir())


def ended(alice: Alice, pk: int) -> dict | None:
    job = alice.job(pk)
    return job if job["state"] not in ("queued", "running") else None


def test_a_job_survives_postgresql_stopped_for_seconds_and_completes(stack, tmp_path):
    rng = np.random.default_rng(5)
    image = write_geotiff(
        tmp_path / "big.tif", rng.integers(0, 4000, size=(4, 3000, 3000), dtype=np.uint16)
    )
    job_id = stack.alice.upload(stack.project, image)
    wait_for(lambda: writing_cog(stack.media), timeout=240, interval=0.05)

    stack.postgres.stop()  # every connection goes, new ones are refused
    time.sleep(5)
    stack.postgres.start()

    job = wait_for(lambda: ended(stack.alice, job_id), timeout=240, interval=0.5)
    assert job["state"] == "succeeded", job["error"] + job["log"]
    assert job["attempts"] == 2 and "database connection was lost" in job["log"]
    status, scenes = stack.alice.call("GET", f"/api/scenes/?project={stack.project}")
    assert status == 200
    listed = scenes["results"] if isinstance(scenes, dict) else scenes
    assert len(listed) == 1
    # One COG, the stored one; the first attempt's half-made COG and the upload are gone.
    left = files_under(stack.media)
    assert len(left) == 1 and left.pop().startswith("scenes/"), files_under(stack.media)
