"""Shared fixtures: the people of every permission story, API clients, a real Celery worker.

alice is admin of project A, bob annotator of A, rita reviewer of A, and
charlie annotator of project B: an outsider to A who must learn nothing of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from inventories.models import Membership, Project, Role

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SCARP_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def media_root(request, settings, tmp_path_factory) -> Path:
    """A fresh MEDIA_ROOT per test, so "no file was left" can be asserted.

    Tests with the real worker share the worker's folder instead; it is emptied first.
    """
    if "celery_worker" in request.fixturenames:
        root = Path(settings.MEDIA_ROOT)
        shutil.rmtree(root, ignore_errors=True)
    else:
        root = tmp_path_factory.mktemp("media")
        settings.MEDIA_ROOT = root
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def people(django_user_model):
    project_a = Project.objects.create(name="Project A", trigger="earthquake")
    project_b = Project.objects.create(name="Project B", trigger="rainfall")
    users = {}
    for name, project, role in [
        ("alice", project_a, Role.ADMIN),
        ("bob", project_a, Role.ANNOTATOR),
        ("rita", project_a, Role.REVIEWER),
        ("charlie", project_b, Role.ANNOTATOR),
        ("dora", project_b, Role.ADMIN),
    ]:
        user = django_user_model.objects.create_user(name, password="pw-" + name)
        Membership.objects.create(project=project, user=user, role=role)
        users[name] = user
    return type("People", (), {"a": project_a, "b": project_b, **users})


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api(people):
    """api.alice, api.bob, ... : authenticated API clients."""
    return type(
        "Clients",
        (),
        {n: client_for(getattr(people, n)) for n in ("alice", "bob", "rita", "charlie", "dora")},
    )


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on the test database, both queues.

    Tests that use it need `transaction=True` so the worker sees their rows.
    """
    db_name = settings.DATABASES["default"]["NAME"]
    env = dict(os.environ)
    base = env["DATABASE_URL"].rsplit("/", 1)[0]
    env["DATABASE_URL"] = f"{base}/{db_name}"
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env["SCARP_JOB_STALE_SECONDS"] = "5"
    # A beat a second: a redelivery after a killed worker takes over within seconds.
    env["SCARP_JOB_HEARTBEAT_SECONDS"] = "1"
    # Small prediction blocks so split runs really split the small test scenes.
    env["SCARP_PREDICT_BLOCK_SIZE"] = "128"
    log = open(  # noqa: SIM115 - stays open for the worker's whole life
        Path(os.environ.get("SCARP_TEST_ARTIFACTS", "/tmp")) / "celery-worker.log", "w"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            "default,gpu",
            "-c",
            "1",
            "--pool",
            "prefork",
            "-n",
            "test@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180  # a loaded 2-core machine imports torch slowly
    ready = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if "ready." in Path(log.name).read_text():
            ready = True
            break
        time.sleep(0.2)
    if not ready:
        proc.kill()
        raise RuntimeError(
            "The Celery worker did not start:\n" + Path(log.name).read_text()[-3000:]
        )
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def tiny_maskrcnn(tmp_path_factory):
    """A tiny Mask R-CNN trained once per run (its TrainResult; the model is in out_dir)."""
    from tests.factories.instance_model import train_tiny_maskrcnn  # torch only when needed

    return train_tiny_maskrcnn(tmp_path_factory.mktemp("maskrcnn"))


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail with a timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {predicate}")
