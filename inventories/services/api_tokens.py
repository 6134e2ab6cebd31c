"""Each person's API token, the key GIS clients (QGIS, GDAL, curl) sign in with.

One token per user (Django REST framework's). A signed-in person gets it from
the project page instead of scripting `POST /api/auth/token/` with their
password; renewing it cuts off every client that held the old one.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


def api_token_get(*, user) -> str:
    """The user's token, made on first use."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def api_token_renew(*, user) -> str:
    """Replace the user's token: the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key
