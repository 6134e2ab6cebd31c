from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventories.errors import DomainError
from inventories.management.commands._common import print_progress, project_by_name_or_id
from inventories.services.scenes import scene_import
from mlcore.errors import MlcoreError


class Command(BaseCommand):
    help = (
        "Import a GeoTIFF into a project as a Cloud-Optimised GeoTIFF scene "
        "(a DEM also yields slope and hillshade)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name or id.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", choices=["optical", "dem"], default="optical")
        parser.add_argument("--phase", choices=["pre", "post"], default="post")
        parser.add_argument("--bands", help="Comma-separated band names, one per band.")
        parser.add_argument("--date", type=dt.date.fromisoformat, help="Acquisition date.")
        parser.add_argument("--name", default="")

    def handle(self, *args, **opts):
        project = project_by_name_or_id(opts["project"])
        path: Path = opts["path"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        bands = [b.strip() for b in opts["bands"].split(",")] if opts["bands"] else None
        try:
            scenes = scene_import(
                project=project,
                source=path,
                name=opts["name"],
                kind=opts["kind"],
                phase=opts["phase"],
                band_names=bands,
                acquired_on=opts["date"],
                original_filename=path.name,
                progress=print_progress(self.stdout),
            )
        except (DomainError, MlcoreError) as exc:
            raise CommandError(str(exc)) from None
        for scene in scenes:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Scene {scene.pk}: {scene.name} ({scene.kind}, {scene.width}x{scene.height}, "
                    f"{scene.band_count} bands)"
                )
            )
