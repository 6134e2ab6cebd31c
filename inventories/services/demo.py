"""The demo project that `make run` shows a newcomer.

Uses the real Baige scenes from the shared data folder when present (0.5 m
imagery, DSM, manual landslides and mapped extents); otherwise generates a
small synthetic scene so the app still has something to show.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from django.contrib.auth import get_user_model
from django.db import transaction
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from inventories.models import Project, Scene
from inventories.services.deletion import project_delete
from inventories.services.files import staged_files
from inventories.services.inventories import extents_import, inventory_import
from inventories.services.projects import project_create
from inventories.services.scenes import scene_import

DEMO_PROJECT = "Baige demo (Jinsha River)"
Log = Callable[[str], None]


def demo_admin(*, password_file: Path, username: str = "admin") -> tuple[str, str]:
    """Create the demo admin once; its password is kept in `password_file` to print again."""
    User = get_user_model()
    password_file.parent.mkdir(parents=True, exist_ok=True)
    if password_file.exists() and User.objects.filter(username=username).exists():
        return username, password_file.read_text().strip()
    password = secrets.token_urlsafe(12)
    user, _ = User.objects.get_or_create(username=username, defaults={"email": ""})
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return username, password


def demo_project(*, data_dir: Path | None, user, log: Log = print) -> Project:
    """Create the demo project with imagery and reference inventories; safe to run again.

    A demo project without imagery is made again only when it holds nothing
    else; one whose people made inventories, models, reports or jobs in it is
    left as it is (nothing a user made goes silently), and is said so.
    """
    project = Project.objects.filter(name=DEMO_PROJECT).first()
    if project is not None and project.scenes.exists():
        log(f"Demo project already present: {project.name}")
        return project
    if project is not None:
        held = _work_in(project)
        if held:
            log(
                f"Demo project {project.name} has no imagery but holds {held}; left as it is. "
                "Rename or delete it in the app to seed the demo again."
            )
            return project
        project_delete(project=project, user=user)  # through the service: its files go too
    # One transaction: an interrupted seed leaves no half-made project behind, and
    # staged_files deletes the COGs it had stored, which the rollback cannot.
    with staged_files() as written, transaction.atomic():
        project = project_create(  # its creator, the demo user, becomes its admin
            name=DEMO_PROJECT,
            user=user,
            trigger=Project.Trigger.OTHER,
            description="Slope failures on the walls of the Jinsha River gorge near Baige, "
            "0.5 m imagery with a surface model (demo data).",
        )
        baige = data_dir / "baige" if data_dir else None
        if baige and (baige / "A" / "image.tif").exists():
            _load_baige(project, baige, user, log, written)
        else:
            log("Shared Baige data not found; generating a synthetic demo scene.")
            _load_synthetic(project, user, log, written)
    return project


def _import_scene(written: list[Path], **kwargs) -> list[Scene]:
    """scene_import, noting the stored COGs so a failed seed can delete them."""
    scenes = scene_import(**kwargs)
    written.extend(scene.path for scene in scenes)
    return scenes


def _work_in(project: Project) -> str:
    """What people made in a project, in words ("2 inventories, 1 model"); "" if nothing."""
    counts = [
        (project.inventories.count(), "inventory", "inventories"),
        (project.model_versions.count(), "model", "models"),
        (project.reports.count(), "report", "reports"),
        (project.jobs.count(), "job", "jobs"),
    ]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)


def _load_baige(project: Project, baige: Path, user, log: Log, written: list[Path]) -> None:
    for scene in ("A", "B"):
        folder = baige / scene
        log(f"Importing Baige scene {scene} imagery")
        _import_scene(
            written,
            project=project,
            source=folder / "image.tif",
            name=f"Baige {scene} image",
            band_names=["red", "green", "blue"],
            original_filename=f"baige-{scene}-image.tif",
            user=user,
        )
        log(f"Importing Baige scene {scene} surface model (with slope and hillshade)")
        _import_scene(
            written,
            project=project,
            source=folder / "dsm.tif",
            name=f"Baige {scene} DSM",
            kind="dem",
            original_filename=f"baige-{scene}-dsm.tif",
            user=user,
        )
        log(f"Importing Baige scene {scene} landslides and mapped extent")
        inventory = inventory_import(
            project=project,
            path=folder / "landslides.gpkg",
            name=f"Baige {scene} manual",
            original_filename=f"baige-{scene}-landslides.gpkg",
            user=user,
        )
        extents_import(inventory=inventory, path=folder / "extent.gpkg", user=user)


def _load_synthetic(project: Project, user, log: Log, written: list[Path]) -> None:
    rng = np.random.default_rng(7)
    size, res, x0, y0 = 1024, 1.0, 500_000.0, 3_450_000.0
    yy, xx = np.mgrid[0:size, 0:size]
    image = (60 + 20 * rng.random((3, size, size))).astype(np.uint8)
    centres = rng.uniform(100, size - 100, size=(12, 2))
    radii = rng.uniform(15, 45, size=12)
    for (cx, cy), r in zip(centres, radii, strict=True):
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        image[:, inside] = np.array([190, 175, 150], dtype=np.uint8)[:, None]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.tif"
        profile = dict(
            driver="GTiff",
            width=size,
            height=size,
            count=3,
            dtype="uint8",
            crs="EPSG:32647",
            transform=from_origin(x0, y0, res, res),
            nodata=0,
        )
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(image)
        _import_scene(
            written,
            project=project,
            source=path,
            name="Synthetic image",
            band_names=["red", "green", "blue"],
            user=user,
        )
        polygons = [
            Point(x0 + cx * res, y0 - cy * res).buffer(r * res)
            for (cx, cy), r in zip(centres, radii, strict=True)
        ]
        frame = gpd.GeoDataFrame(
            {"type": ["slide"] * len(polygons)}, geometry=polygons, crs="EPSG:32647"
        )
        vector = Path(tmp) / "landslides.gpkg"
        frame.to_file(vector, layer="landslides")
        inventory = inventory_import(
            project=project, path=vector, name="Synthetic manual", user=user
        )
        extent = gpd.GeoDataFrame(
            {"split": ["train"]},
            geometry=[box(x0, y0 - size * res, x0 + size * res, y0)],
            crs="EPSG:32647",
        )
        extent_path = Path(tmp) / "extent.gpkg"
        extent.to_file(extent_path, layer="extent")
        extents_import(inventory=inventory, path=extent_path, user=user)
    log("Synthetic demo project ready.")
