from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventories.errors import DomainError
from inventories.management.commands._common import print_progress, project_by_name_or_id
from inventories.services.inventories import extents_import, inventory_import
from mlcore.errors import MlcoreError


class Command(BaseCommand):
    help = (
        "Import landslide polygons (GeoJSON, GeoPackage, zipped Shapefile or KML) as a new "
        "inventory. All or nothing: one bad feature refuses the file and names it."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name or id.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", choices=["reference", "predicted"], default="reference")
        parser.add_argument("--layer", help="Layer of a GeoPackage with several.")
        parser.add_argument(
            "--extents", type=Path, help="Also import mapped extents (with a 'split' column)."
        )

    def handle(self, *args, **opts):
        project = project_by_name_or_id(opts["project"])
        path: Path = opts["path"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        try:
            inventory = inventory_import(
                project=project,
                path=path,
                name=opts["name"],
                kind=opts["kind"],
                layer=opts["layer"],
                original_filename=path.name,
                progress=print_progress(self.stdout),
            )
            if opts["extents"]:
                extents = extents_import(inventory=inventory, path=opts["extents"])
                self.stdout.write(f"{len(extents)} mapped extents imported.")
        except (DomainError, MlcoreError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Inventory {inventory.pk}: {inventory.name} with "
                f"{inventory.landslides.count()} landslides"
            )
        )
