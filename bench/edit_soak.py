"""Concurrency soak: annotators edit and save polygons while two reviewers decide, over HTTP.

    source scripts/env.sh
    .venv/bin/python bench/edit_soak.py [--annotators 6] [--polygons 20] [--seconds 60]
                                        [--max-requests 4000]

It makes a database of its own on the PostgreSQL of DATABASE_URL (scarp_soak,
migrated once and dropped at the end unless --keep-db), serves the app with
`manage.py runserver` on a free 127.0.0.1 port, and sends traffic to that
loopback address only, bounded by --seconds and --max-requests.

Each annotator loops: read a random polygon, move its vertices a little and
PATCH it with the version it read. Two reviewers loop: read a random polygon
and decide it (accepted or rejected) with the version they read. A stale
version answers 409, after which the client reads again, as the editor does.

Printed: requests, p50/p95 latency, 409s, 500s (expected 0) and lost updates
(expected 0): a lost update is a successful write whose version another
successful write also got, or a polygon whose final version is not its first
version plus the number of successful writes to it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """A token-authenticated JSON client for one person, on loopback only."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError:
            status, raw = 0, b""  # no answer at all (counted under other_statuses as 0)
        elapsed = time.perf_counter() - started
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            # DEBUG's error page: keep its title ("ExceptionType at /path") for the summary
            title = raw.split(b"<title>", 1)[-1].split(b"</title>", 1)[0] if raw else b""
            data = {"error": title.decode(errors="replace").strip()[:200]}
        return status, data, elapsed


def setup_database(url: str, keep: bool) -> str:
    """A database of the soak's own on the same server, migrated."""
    import psycopg

    base, _, _ = url.rpartition("/")
    admin = base.replace("postgis://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname='scarp_soak'").fetchone()
        if exists and not keep:
            conn.execute("DROP DATABASE scarp_soak")
            exists = None
        if not exists:
            conn.execute("CREATE DATABASE scarp_soak")
    soak_url = f"{base}/scarp_soak"
    env = {**os.environ, "DATABASE_URL": soak_url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    return soak_url


def drop_database(url: str) -> None:
    import psycopg

    base, _, _ = url.rpartition("/")
    admin = base.replace("postgis://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS scarp_soak WITH (FORCE)")


def seed(annotators: int, polygons: int) -> tuple[int, list[int], dict[str, str]]:
    """Project, people (annotators and two reviewers) with tokens, a predicted inventory."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from rest_framework.authtoken.models import Token

    from inventories.models import Inventory, Landslide, Membership, Project, Role

    project = Project.objects.create(name=f"Soak {time.time():.0f}", trigger="earthquake")
    inventory = Inventory.objects.create(
        project=project, name="soak", kind=Inventory.Kind.PREDICTED,
        status=Inventory.Status.IN_REVIEW,
    )  # fmt: skip
    ids = []
    for i in range(polygons):
        x, y = 98.68 + (i % 10) * 0.002, 31.14 + (i // 10) * 0.002
        ring = ((x, y), (x + 0.001, y), (x + 0.001, y + 0.001), (x, y + 0.001), (x, y))
        ids.append(
            Landslide.objects.create(
                inventory=inventory,
                geometry=MultiPolygon(Polygon(ring), srid=4326),
                area_m2=10000.0,
            ).pk
        )
    tokens = {}
    people = [(f"annotator{i}", Role.ANNOTATOR) for i in range(annotators)]
    people += [("reviewer0", Role.REVIEWER), ("reviewer1", Role.REVIEWER)]
    for name, role in people:
        user = get_user_model().objects.create_user(f"soak-{name}-{project.pk}")
        Membership.objects.create(project=project, user=user, role=role)
        tokens[name] = Token.objects.create(user=user).key
    return inventory.pk, ids, tokens


def moved(geometry: dict) -> dict:
    dx, dy = random.uniform(-1e-5, 1e-5), random.uniform(-1e-5, 1e-5)
    outer = geometry["coordinates"][0]
    if geometry["type"] == "MultiPolygon":
        outer = outer[0]
    ring = [[x + dx, y + dy] for x, y in outer[:-1]]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=6)
    parser.add_argument("--polygons", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=4000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", "soak-only")
    url = setup_database(
        os.environ.get("DATABASE_URL", "postgis://scarp:scarp@127.0.0.1:54329/scarp"), args.keep_db
    )
    os.environ["DATABASE_URL"] = url
    inventory_pk, ids, tokens = seed(args.annotators, args.polygons)
    port = free_port()
    log = (ROOT / "var" / "edit_soak-server.log").open("w")  # noqa: SIM115 - the server's life
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        # runserver's thread per request would keep a connection each ("too many clients").
        cwd=ROOT, env={**os.environ, "SCARP_DB_CONN_MAX_AGE": "0"}, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"The server did not start on 127.0.0.1:{port}") from None
                time.sleep(0.3)
        results = soak(base, inventory_pk, ids, tokens, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep_db:
            drop_database(url)
    print(json.dumps(results, indent=2))


def soak(base, inventory_pk, ids, tokens, args) -> dict:
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    written: dict[int, list[int]] = defaultdict(list)  # pk -> versions of successful writes
    first: dict[int, int] = {}
    stop_at = time.monotonic() + args.seconds
    budget = [args.max_requests]

    def take() -> bool:
        with lock:
            if budget[0] <= 0 or time.monotonic() >= stop_at:
                return False
            budget[0] -= 1
            return True

    def record(status: int, elapsed: float) -> None:
        with lock:
            latencies.append(elapsed)
            statuses[status] += 1

    def person(name: str, reviewer: bool) -> None:
        client = Client(base, tokens[name])
        while take():
            pk = random.choice(ids)
            status, feature, elapsed = client.call("GET", f"/landslides/{pk}/")
            record(status, elapsed)
            if status >= 500:
                with lock:
                    errors[feature.get("error", "")] += 1
            if status != 200 or not take():
                continue
            version = feature["properties"]["version"]
            with lock:
                first.setdefault(pk, version)
            if reviewer:
                path = f"/inventories/{inventory_pk}/review/landslides/{pk}/decide/"
                body = {"decision": random.choice(["accepted", "rejected"]), "version": version}
                status, answer, elapsed = client.call("POST", path, body)
            else:
                body = {"version": version, "geometry": moved(feature["geometry"])}
                status, answer, elapsed = client.call("PATCH", f"/landslides/{pk}/", body)
            record(status, elapsed)
            if status >= 500:
                with lock:
                    errors[answer.get("error", "")] += 1
            if status == 200:
                feature = answer.get("landslide", answer)  # a decision answers with progress too
                new = feature["properties"]["version"]
                with lock:
                    written[pk].append(new)

    threads = [
        threading.Thread(target=person, args=(name, name.startswith("reviewer"))) for name in tokens
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started

    client = Client(base, tokens["reviewer0"])
    lost = 0
    for pk, versions in written.items():
        lost += len(versions) - len(set(versions))  # two successful writes got one version
        for _ in range(10):  # the final read must succeed to compare
            status, feature, _ = client.call("GET", f"/landslides/{pk}/")
            if status == 200:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"Could not read landslide {pk} after the soak (HTTP {status}).")
        final = feature["properties"]["version"]
        lost += abs(first[pk] + len(versions) - final)
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": round(wall, 1),
        "people": f"{args.annotators} annotators, 2 reviewers, {len(ids)} polygons",
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
        "successful_writes": sum(len(v) for v in written.values()),
        "409": statuses[409],
        "500": sum(n for s, n in statuses.items() if s >= 500),
        "other_statuses": {str(s): n for s, n in statuses.items() if s not in (200, 409)},
        "lost_updates": lost,
        "errors": dict(errors.most_common(5)),
    }


if __name__ == "__main__":
    main()
