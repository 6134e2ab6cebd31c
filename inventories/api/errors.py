"""The one place where domain errors become HTTP answers."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from inventories.errors import Conflict, DomainError
from mlcore.errors import MlcoreError


def exception_handler(exc, context):
    if isinstance(exc, Conflict):
        body = {"detail": exc.message}
        serializer = context["view"].conflict_serializer(exc.details, context=context)
        body["current"] = serializer.data
        return Response(body, status=409)
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, MlcoreError):
        return Response({"detail": str(exc)}, status=400)
    return drf_exception_handler(exc, context)
