"""``POST auth/token/``: a token for a username and password, refused once the user holds no role."""

from __future__ import annotations

from typing import Any

from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_for


class ObtainToken(ObtainAuthToken):
    """``POST auth/token/`` — refused for users who no longer hold any role."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        actor_for(user)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
