"""Shared helpers of the management commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from inventories.models import Project


def project_by_name_or_id(value: str) -> Project:
    named = list(Project.objects.filter(name=value)[:2])
    if len(named) > 1:
        raise CommandError(f"Several projects are named {value!r}; give the project's id.")
    project = named[0] if named else None
    if project is None and value.isdigit():
        project = Project.objects.filter(pk=int(value)).first()
    if project is None:
        raise CommandError(f"No project named or numbered {value!r}.")
    return project


def print_progress(stdout):
    def progress(fraction: float, message: str) -> None:
        stdout.write(f"  {fraction:4.0%}  {message}")

    return progress
