"""A job as the API answers it; every view that starts a job answers 202 with it."""

from __future__ import annotations

from rest_framework import serializers

from inventories.models import Job
from inventories.selectors.jobs import job_timing


class JobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    elapsed_seconds = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()

    def get_elapsed_seconds(self, job) -> float | None:
        return job_timing(job).elapsed_seconds

    def get_eta_seconds(self, job) -> float | None:
        """About how long a running job has left, from its progress so far; null until known."""
        return job_timing(job).eta_seconds

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "state",
            "state_label",
            "queue",
            "params",
            "result",
            "progress",
            "message",
            "log",
            "error",
            "attempts",
            "cancel_requested",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "elapsed_seconds",
            "eta_seconds",
        ]
        read_only_fields = fields
