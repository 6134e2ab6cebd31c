"""`POST /api/auth/my-token/`: the signed-in person's API token, for their GIS clients."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.services.api_tokens import api_token_get, api_token_renew

_TokenAnswer = inline_serializer("ApiToken", {"token": serializers.CharField()})
_TokenAsk = inline_serializer("ApiTokenRequest", {"renew": serializers.BooleanField(default=False)})


class MyTokenView(APIView):
    """A POST (never a GET): it may create a token, and a page's CSRF token guards it."""

    @extend_schema(
        request=_TokenAsk,
        responses={200: _TokenAnswer},
        summary="Your API token (renew: true replaces it, cutting off the old one)",
    )
    def post(self, request):
        renew = serializers.BooleanField().to_internal_value(request.data.get("renew", False))
        make = api_token_renew if renew else api_token_get
        return Response({"token": make(user=request.user)})
