"""Latency of the map's tiles: imagery (endpoint beside rio-tiler alone) and vector tiles.

    source scripts/env.sh && .venv/bin/python bench/tile_speed.py [--size 4096] [--polygons 100000]

Imagery: a --size x --size three-band uint8 scene at 0.5 m is stored as a COG
by the app's own import, then the same tiles (zooms 15 to 18, over the scene)
are rendered as 256-pixel tiles, interleaved: by rio-tiler called directly
(Reader.tile, rescale from the stored p2/p98, render as PNG and as JPEG) and
through the tile endpoint (Django's test client: middleware, session login,
scene lookup scoped to the user's projects, ETag, the server's tile cache).
The endpoint is timed three ways: `.png` first render (the cache is emptied
before each round, so every request renders), the map's extension-less URL
first render (the server picks JPEG where every pixel has data, PNG at the
scene's edge), and the same URL repeated (served from the tile cache).
Targets: first render within 1.1x of rio-tiler direct in the same format;
a repeated tile under 5 ms.

Vector tiles: --polygons landslides (17-vertex rings, log-normal areas of 50
to 50,000 m2) are put into one inventory by a single INSERT ... SELECT over
generate_series, then ANALYZEd; tiles at zooms 10 to 17 over that area are
fetched through the endpoint (ST_AsMVT in PostGIS). Target: p95 under 100 ms
at every zoom.

Everything runs inside one transaction that is rolled back, in a temporary
MEDIA_ROOT: the development database and media are left as they were.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

import django  # noqa: E402

django.setup()

import morecantile  # noqa: E402
import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from rio_tiler.io import Reader  # noqa: E402

from inventories.models import Inventory, Membership, Project, Role  # noqa: E402
from inventories.services import tile_cache  # noqa: E402
from inventories.services.scenes import scene_import  # noqa: E402
from mlcore.raster import render  # noqa: E402

TMS = morecantile.tms.get("WebMercatorQuad")
ORIGIN = (500_000.0, 3_450_000.0)  # UTM 47N, about 99.0 E 31.2 N


class Rollback(Exception):
    pass


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def make_scene(project: Project, size: int, folder: Path):
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    base = (120 + 60 * np.sin(xx / 97.0) * np.cos(yy / 131.0)).astype(np.float32)
    path = folder / "scene.tif"
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32647",
        transform=from_origin(*ORIGIN, 0.5, 0.5),
        nodata=0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
    )
    with rasterio.open(path, "w", **profile) as dst:
        for band in range(3):
            noise = rng.normal(0, 12, (size, size)).astype(np.float32)
            dst.write(np.clip(base + 20 * band + noise, 1, 255).astype(np.uint8), band + 1)
    (scene,) = scene_import(project=project, source=path, band_names=["red", "green", "blue"])
    return scene


def tiles_over(bounds: tuple[float, float, float, float], zooms, per_zoom: int, seed: int):
    rng = random.Random(seed)
    chosen = []
    for z in zooms:
        candidates = list(TMS.tiles(*bounds, zooms=[z]))
        chosen += rng.sample(candidates, min(per_zoom, len(candidates)))
    return chosen


def bench_imagery(client: Client, scene, tiles, rounds: int):
    """Milliseconds per tile for each way, and the mean bytes of what each returned."""
    style = render.style_for(
        preset="truecolor",
        band_names=scene.band_names,
        band_stats=scene.band_stats,
        kind=scene.kind,
    )
    path = str(scene.path)

    def direct(t, fmt: str) -> int:
        with Reader(path) as src:
            image = src.tile(t.x, t.y, t.z, tilesize=256, indexes=style.bands)
        return len(image.rescale(in_range=style.stretch).render(img_format=fmt))

    def endpoint(t, ext: str) -> int:
        response = client.get(
            f"/api/scenes/{scene.pk}/tiles/{t.z}/{t.x}/{t.y}{ext}?preset=truecolor"
        )
        assert response.status_code == 200, response.content[:200]
        return len(response.content)

    runs = {
        "direct PNG": lambda t: direct(t, "PNG"),
        "endpoint .png": lambda t: endpoint(t, ".png"),
        "direct JPEG": lambda t: direct(t, "JPEG"),
        "endpoint auto": lambda t: endpoint(t, ""),
    }
    times: dict[str, list[float]] = {name: [] for name in [*runs, "endpoint repeated"]}
    sizes: dict[str, list[int]] = {name: [] for name in times}
    renders = 0
    for t in tiles[:5]:  # warm GDAL's caches and Django's imports
        for run in runs.values():
            run(t)

    def timed(name: str, run, t) -> None:
        start = time.perf_counter()
        sizes[name].append(run(t))
        times[name].append((time.perf_counter() - start) * 1000)

    for round_ in range(rounds):
        tile_cache.scene_tiles_forget(scene.pk)  # every endpoint request below renders
        before = tile_cache.renders
        for i, t in enumerate(tiles):
            pairs = [("direct PNG", "endpoint .png"), ("direct JPEG", "endpoint auto")]
            for pair in pairs:
                for name in pair if (i + round_) % 2 == 0 else pair[::-1]:
                    timed(name, runs[name], t)
        renders += tile_cache.renders - before
        before = tile_cache.renders
        for t in tiles:
            timed("endpoint repeated", runs["endpoint auto"], t)
        assert tile_cache.renders == before, "a repeated tile was rendered again"
    return times, sizes, renders


INSERT_POLYGONS = """
INSERT INTO inventories_landslide
    (inventory_id, geometry, area_m2, landslide_type, certainty, review_state, notes,
     attributes, repaired, version, created_at, updated_at)
SELECT %(inventory)s, ST_Multi(ST_Buffer(centre::geography, radius, 'quad_segs=4')::geometry),
       pi() * radius * radius, 'slide', 'certain', 'none', '', '{}'::jsonb, false, 1, now(), now()
FROM (
    SELECT ST_SetSRID(ST_MakePoint(%(west)s + random() * %(width)s,
                                   %(south)s + random() * %(height)s), 4326) AS centre,
           sqrt(exp(ln(50) + random() * ln(1000)) / pi()) AS radius
    FROM generate_series(1, %(count)s)
) AS points
"""


def make_polygons(inventory: Inventory, count: int, bounds) -> float:
    west, south, east, north = bounds
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            INSERT_POLYGONS,
            {
                "inventory": inventory.pk,
                "west": west,
                "south": south,
                "width": east - west,
                "height": north - south,
                "count": count,
            },
        )
        cursor.execute("ANALYZE inventories_landslide")
    return time.perf_counter() - start


def bench_vectors(client: Client, inventory: Inventory, tiles, rounds: int):
    by_zoom: dict[int, list[float]] = {}
    sizes: dict[int, list[int]] = {}
    for t in tiles[:3]:
        client.get(f"/api/inventories/{inventory.pk}/tiles/{t.z}/{t.x}/{t.y}.mvt")
    for _ in range(rounds):
        for t in tiles:
            start = time.perf_counter()
            response = client.get(f"/api/inventories/{inventory.pk}/tiles/{t.z}/{t.x}/{t.y}.mvt")
            by_zoom.setdefault(t.z, []).append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
            sizes.setdefault(t.z, []).append(len(response.content))
    return by_zoom, sizes


def row(label: str, samples: list[float], extra: str = "") -> str:
    median, p95 = percentiles(samples)
    return f"{label:<46} {len(samples):>5} {median:>9.1f} {p95:>9.1f}  {extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="scene width and height, pixels")
    parser.add_argument("--polygons", type=int, default=100_000)
    parser.add_argument("--tiles-per-zoom", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    settings.DEBUG = False  # no query log in the timings
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = Path(tmp)
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user("bench-tiles", password="x")
                project = Project.objects.create(name="bench tiles (rolled back)")
                Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
                client = Client(HTTP_HOST="localhost")
                client.force_login(user)

                print(f"Storing a {args.size} x {args.size} x 3 scene as a COG ...", flush=True)
                scene = make_scene(project, args.size, Path(tmp))
                bounds = scene.footprint.extent
                image_tiles = tiles_over(bounds, range(15, 19), args.tiles_per_zoom, seed=1)
                imagery, image_bytes, renders = bench_imagery(
                    client, scene, image_tiles, args.rounds
                )

                inventory = Inventory.objects.create(project=project, name="bench")
                west, south = bounds[0], bounds[1]
                area = (west - 0.25, south - 0.25, west + 0.25, south + 0.25)
                print(f"Inserting {args.polygons:,} polygons ...", flush=True)
                seconds = make_polygons(inventory, args.polygons, area)
                vector_tiles = tiles_over(area, range(10, 18), args.tiles_per_zoom, seed=2)
                vectors, sizes = bench_vectors(client, inventory, vector_tiles, args.rounds)
                raise Rollback
        except Rollback:
            pass

    print()
    print(f"{'request':<46} {'n':>5} {'median ms':>9} {'p95 ms':>9}")
    labels = {
        "direct PNG": "rio-tiler direct, 256 px PNG, z15-18",
        "endpoint .png": "GET .../tiles/z/x/y.png, first render",
        "direct JPEG": "rio-tiler direct, 256 px JPEG",
        "endpoint auto": "GET .../tiles/z/x/y (server picks), first",
        "endpoint repeated": "GET .../tiles/z/x/y again (tile cache)",
    }
    for name, label in labels.items():
        kb = sum(image_bytes[name]) / len(image_bytes[name]) / 1024
        print(row(label, imagery[name], f"{kb:.1f} kB"))
    for direct, endpoint in (("direct PNG", "endpoint .png"), ("direct JPEG", "endpoint auto")):
        d_med, d_p95 = percentiles(imagery[direct])
        e_med, e_p95 = percentiles(imagery[endpoint])
        print(
            f"{'  ' + endpoint + ' / ' + direct:<46} {'':>5} {e_med / d_med:>8.2f}x "
            f"{e_p95 / d_p95:>8.2f}x  (target <= 1.1x)"
        )
    r_med, r_p95 = percentiles(imagery["endpoint repeated"])
    verdict = "met" if r_p95 < 5 else "NOT met"
    print(
        f"  repeated tile: median {r_med:.1f} ms, p95 {r_p95:.1f} ms (target < 5 ms: {verdict}); "
        f"{renders} renders for {len(imagery['endpoint .png']) * 2} first requests"
    )
    print(f"{args.polygons:,} polygons inserted in {seconds:.1f} s (one INSERT ... SELECT)")
    every = [ms for samples in vectors.values() for ms in samples]
    worst = 0.0
    for z in sorted(vectors):
        mean_kb = sum(sizes[z]) / len(sizes[z]) / 1024
        worst = max(worst, percentiles(vectors[z])[1])
        print(
            row(f"GET /api/inventories/{{id}}/tiles/{z}/x/y.mvt", vectors[z], f"{mean_kb:.0f} kB")
        )
    verdict = "met" if worst < 100 else "NOT met"
    print(
        row(
            "  all vector tiles, z10-17",
            every,
            f"(worst zoom p95 {worst:.0f} ms; target p95 < 100 ms at every zoom: {verdict})",
        )
    )


if __name__ == "__main__":
    main()
