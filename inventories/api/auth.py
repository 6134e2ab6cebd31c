"""An API token sent as the password of HTTP Basic authentication.

GIS clients cannot all set a header: GDAL 3.6's OAPIF driver (ogr2ogr,
QGIS's "OGC API - Features" source) replaces GDAL_HTTP_HEADERS with its own
Accept header, but every GDAL driver sends GDAL_HTTP_USERPWD, and QGIS's
"Basic" authentication configuration is the one every connection dialog
offers. So the token is also accepted as a Basic password, with the token
owner's user name. The account password itself is never accepted here: a
password is guessed only at the throttled `POST /api/auth/token/`.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenBasicAuthentication(authentication.BaseAuthentication):
    """`Authorization: Basic base64(username:token)`, the token being an API token."""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"basic":
            return None  # not ours: the session or `Token <key>` may still answer
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed(
                "The Basic credentials are not base64 of 'username:token'."
            ) from None
        username, sep, key = decoded.partition(":")
        if not sep or not key:
            raise exceptions.AuthenticationFailed(
                "Send your user name and API token as 'username:token'."
            )
        token = Token.objects.select_related("user").filter(key=key).first()
        # compare_digest: the answer takes the same time whether the user name or the key is off.
        if (
            token is None
            or not token.user.is_active
            or not hmac.compare_digest(token.user.get_username().encode(), username.encode())
        ):
            raise exceptions.AuthenticationFailed(
                "That user name and API token do not match (the password is the API token "
                "from POST /api/auth/token/, not the account password)."
            )
        return token.user, token

    # No authenticate_header: the session comes first, so a refusal is a 403 with its
    # message, never a 401 that would make a browser ask for a password.


class TokenBasicScheme(OpenApiAuthenticationExtension):
    """The schema's name for it, so OpenAPI clients see the Basic way in beside the header."""

    target_class = "inventories.api.auth.TokenBasicAuthentication"
    name = "tokenBasicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Your user name, and your API token as the password.",
        }
