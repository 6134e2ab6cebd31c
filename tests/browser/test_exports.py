"""Export links of the project page in real headless Chromium, files opened with GDAL.

A small inventory's links download at once; a large one's start a job on the
real worker, show its progress and then a download link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.rows import make_inventory, make_landslide, square
from tests.inventories.test_export import read

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINKS = [("GeoJSON", ".geojson"), ("GeoPackage", ".gpkg"), ("Shapefile", ".zip")]


def filled(project, name: str, count: int):
    inventory = make_inventory(project, name, source_crs="EPSG:32647")
    for i in range(count):
        make_landslide(
            inventory,
            geometry=square(lon=98.6 + 0.01 * i),
            landslide_type="flow",
            attributes={"code": f"{name[0]}{i}"},
        )
    return inventory


def downloaded(page, click, tmp_path: Path) -> Path:
    with page.expect_download(timeout=60_000) as info:
        click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_every_export_link_gives_a_file_gdal_reads_small_at_once_large_by_a_job(
    open_page, people, settings, tmp_path, celery_worker
):
    settings.SCARP_EXPORT_SYNC_MAX_POLYGONS = 3
    filled(people.a, "Small", 3)
    filled(people.a, "Large", 4)
    page = open_page(people.bob, f"/projects/{people.a.pk}/")

    for name, count in (("Small", 3), ("Large", 4)):
        row = page.locator("#inventories tbody tr", has_text=name)
        for label, suffix in LINKS:
            link = row.locator(f'a[data-export="{label}"]')
            if name == "Small":
                path = downloaded(page, link.click, tmp_path)
            else:
                link.click()
                ready = row.locator("a.export-ready", has_text=label)
                ready.wait_for(timeout=90_000)
                path = downloaded(page, ready.click, tmp_path)
            assert path.suffix == suffix
            frame = read(path.read_bytes(), suffix, tmp_path)
            assert len(frame) == count, (name, label)
            assert sorted(frame["code"]) == [f"{name[0]}{i}" for i in range(count)]
            assert frame.crs.to_epsg() == (4326 if suffix == ".geojson" else 32647)
    assert page.errors == []
