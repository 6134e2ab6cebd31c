"""`manage.py seed_demo` (run by `make run` each time) never loses what people made.

It deleted a demo project without imagery with `Project.delete()`: every
inventory, model and report people had made in it went, silently, and their
files stayed on disk. And a seed that failed half-way rolled its rows back
but left the COGs it had stored.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from inventories.errors import DomainError
from inventories.models import Inventory, Landslide, Project
from inventories.services.demo import DEMO_PROJECT
from mlcore.errors import MlcoreError
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_var(settings, tmp_path):
    """The demo admin's password file goes to a folder of the test, not the checkout's var/."""
    settings.BASE_DIR = tmp_path


def seed(data: Path) -> str:
    out = StringIO()
    call_command("seed_demo", "--data", str(data), stdout=out)
    return out.getvalue()


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_seeding_again_keeps_a_demo_project_in_which_people_made_an_inventory(tmp_path, media_root):
    project = Project.objects.create(name=DEMO_PROJECT, trigger="other")
    mapped = make_inventory(project, "Field mapping after the storm")
    make_landslide(mapped)

    out = seed(tmp_path / "no-shared-data")

    assert "has no imagery but holds 1 inventory; left as it is" in out
    assert Project.objects.get(name=DEMO_PROJECT).pk == project.pk
    assert Inventory.objects.filter(pk=mapped.pk).exists()
    assert Landslide.objects.filter(inventory=mapped).count() == 1
    assert not project.scenes.exists() and files_under(media_root) == []


def test_seeding_again_makes_an_empty_demo_project_anew(tmp_path, media_root):
    empty = Project.objects.create(name=DEMO_PROJECT, trigger="other")

    out = seed(tmp_path / "no-shared-data")

    assert "Synthetic demo project ready." in out
    project = Project.objects.get(name=DEMO_PROJECT)
    assert project.pk != empty.pk
    assert files_under(media_root) == sorted(s.file for s in project.scenes.all())
    assert project.scenes.count() == 1 and project.inventories.count() == 1


def test_a_seed_that_fails_half_way_leaves_no_project_and_no_cog(tmp_path, media_root):
    scene = tmp_path / "shared" / "baige" / "A"
    scene.mkdir(parents=True)
    write_geotiff(scene / "image.tif", np.full((3, 64, 64), 120, dtype="uint8"))
    (scene / "dsm.tif").write_bytes(b"II*\x00 not really a GeoTIFF")

    with pytest.raises((DomainError, MlcoreError), match="dsm.tif"):
        seed(tmp_path / "shared")

    assert not Project.objects.filter(name=DEMO_PROJECT).exists()
    assert files_under(media_root) == []
