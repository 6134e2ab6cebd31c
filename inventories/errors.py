"""Domain errors raised by services; one handler turns them into HTTP answers.

Messages are sentences a user can act on; they are shown as they are.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    status_code = 400


class NotAllowed(DomainError):
    """The caller is a member of the project but their role does not allow this."""

    status_code = 403


class NotFound(DomainError):
    """Also used for objects of projects the caller is not a member of: they learn nothing."""

    status_code = 404


class Conflict(DomainError):
    """The object changed since the caller read it; `details` holds its current state."""

    status_code = 409
