"""Factories for rows, for tests that need objects but not the import path."""

from __future__ import annotations

from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory, Job, Landslide, MappedExtent, Project, Scene


def square(lon: float = 98.68, lat: float = 31.14, size: float = 0.001) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((lon, lat, lon + size, lat + size)), srid=4326)


def make_scene(project: Project, name: str = "scene") -> Scene:
    return Scene.objects.create(
        project=project,
        name=name,
        file=f"scenes/{project.pk}-{name}.tif",
        width=10,
        height=10,
        band_count=3,
        band_names=["red", "green", "blue"],
        dtype="uint8",
        crs_wkt="EPSG:32647",
        epsg=32647,
        resolution_x=1.0,
        resolution_y=1.0,
        footprint=square().convex_hull,
    )


def make_inventory(project: Project, name: str = "inventory", **fields) -> Inventory:
    return Inventory.objects.create(project=project, name=name, **fields)


def make_landslide(inventory: Inventory, **fields) -> Landslide:
    fields.setdefault("geometry", square())
    fields.setdefault("area_m2", 10_000.0)
    return Landslide.objects.create(inventory=inventory, **fields)


def make_extent(inventory: Inventory, **fields) -> MappedExtent:
    fields.setdefault("geometry", square(size=0.01))
    return MappedExtent.objects.create(inventory=inventory, **fields)


def make_job(project: Project, **fields) -> Job:
    fields.setdefault("kind", Job.Kind.IMPORT_SCENE)
    return Job.objects.create(project=project, **fields)
