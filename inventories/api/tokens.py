"""`POST /api/auth/my-token/`: the signed-in person's API token, for their GIS clients."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.serializers.tokens import ApiTokenGetSerializer, ApiTokenSerializer
from inventories.services.api_tokens import api_token_get, api_token_renew


class MyTokenView(APIView):
    """A POST (never a GET): it may create a token, and a page's CSRF token guards it."""

    @extend_schema(
        request=ApiTokenGetSerializer,
        responses={200: ApiTokenSerializer},
        summary="Your API token (renew: true replaces it, cutting off the old one)",
    )
    def post(self, request):
        ask = ApiTokenGetSerializer(data=request.data)
        ask.is_valid(raise_exception=True)  # a body that is no object is a 400, not a 500
        make = api_token_renew if ask.validated_data["renew"] else api_token_get
        return Response({"token": make(user=request.user)})
