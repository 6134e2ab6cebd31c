"""Limits at the API's door: the largest list page, and throttles on guessing passwords.

Both read their numbers from settings at request time, so an operator's
environment (and a test's override) applies without a restart of the module.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.throttling import SimpleRateThrottle


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` beyond SCARP_MAX_PAGE_SIZE gets that many: one request never dumps a table."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.SCARP_MAX_PAGE_SIZE


class TokenThrottle(SimpleRateThrottle):
    """Token requests per client address (SCARP_TOKEN_RATE, e.g. "10/min"); then 429."""

    scope = "auth-token"

    def get_rate(self) -> str:
        return settings.SCARP_TOKEN_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledObtainAuthToken(ObtainAuthToken):
    """POST /api/auth/token/ with a username and password; throttled against guessing."""

    throttle_classes = [TokenThrottle]
