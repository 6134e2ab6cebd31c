from django.core.management.base import BaseCommand

from inventories.services.jobs import jobs_reap


class Command(BaseCommand):
    help = "Requeue (or fail, past the attempt limit) running jobs whose heartbeat stopped."

    def add_arguments(self, parser):
        parser.add_argument("--stale-seconds", type=int, default=None)

    def handle(self, *args, **opts):
        count = jobs_reap(stale_seconds=opts["stale_seconds"])
        self.stdout.write(f"{count} stale job(s) settled.")
