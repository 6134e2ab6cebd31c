"""The one way a page finds its project or object: a 404 for outsiders and unknown ids alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.http import Http404

from inventories.errors import NotFound
from inventories.models import Project
from inventories.selectors.projects import project_get


@contextmanager
def not_found_is_404() -> Iterator[None]:
    """A selector's NotFound becomes the page's 404, with the selector's sentence."""
    try:
        yield
    except NotFound as exc:
        raise Http404(exc.message) from None


def project_or_404(request, pk: int) -> Project:
    """The project if the user is a member; otherwise a 404, as if it did not exist."""
    with not_found_is_404():
        return project_get(user=request.user, pk=pk)
