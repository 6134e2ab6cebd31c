from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventories.errors import DomainError
from inventories.models import Inventory
from inventories.services.inventories import inventory_export
from mlcore.errors import MlcoreError


class Command(BaseCommand):
    help = (
        "Export an inventory to .geojson (WGS84), .gpkg or .zip (zipped Shapefile); "
        "GeoPackage and Shapefile default to the CRS the inventory was imported in."
    )

    def add_arguments(self, parser):
        parser.add_argument("inventory_id", type=int)
        parser.add_argument("path", type=Path)
        parser.add_argument("--crs", help="Target CRS, e.g. EPSG:32647.")

    def handle(self, *args, **opts):
        inventory = Inventory.objects.filter(pk=opts["inventory_id"]).first()
        if inventory is None:
            raise CommandError(f"No inventory {opts['inventory_id']}.")
        try:
            path = inventory_export(inventory=inventory, path=opts["path"], crs=opts["crs"])
        except (DomainError, MlcoreError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {inventory.landslides.count()} landslides to {path}")
        )
