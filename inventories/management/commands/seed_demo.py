from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from inventories.services.demo import demo_admin, demo_project


class Command(BaseCommand):
    help = "Create the demo admin and the demo project (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            type=Path,
            default=Path(
                os.environ.get("SCARP_SHARED_DATA", settings.BASE_DIR.parent / "shared" / "data")
            ),
            help="Folder with baige/A and baige/B (the shared landslide data).",
        )

    def handle(self, *args, **opts):
        password_file = settings.BASE_DIR / "var" / "demo-admin-password.txt"
        username, password = demo_admin(password_file=password_file)
        user = get_user_model().objects.get(username=username)
        data = opts["data"] if opts["data"].exists() else None
        project = demo_project(data_dir=data, user=user, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Demo project: {project.name}"))
        self.stdout.write(self.style.SUCCESS(f"Log in as {username} / {password}"))
