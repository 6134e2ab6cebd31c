"""Where a file the server wrote lives: the one rule every layer uses to find it.

Below services and selectors alike, so a selector can serve a stored file
without importing a service.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def media_path(relative: str) -> Path:
    """Absolute path of a file the server wrote; refuses anything that leaves MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"{relative!r} is outside MEDIA_ROOT.")
    return path
