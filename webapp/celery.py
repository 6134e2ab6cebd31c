"""The Celery app. Queues: `default` (imports, reports, vectorising) and `gpu`
(training and prediction, one task per GPU at a time)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("scarp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
