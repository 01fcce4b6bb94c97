"""``auth/token/``: a token for a username and password (throttled); ``auth/token/revoke/`` ends one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_for, actor_of
from api.common import DeclaredQuery, validated
from api.parsers import StrictJSONParser
from api.throttling import LoginRateThrottle, LoginThrottled
from domain.errors import StaffNotFound
from domain.policy import require_role


class TokenInput(AuthTokenSerializer):
    username = serializers.CharField(label="用户名", max_length=150, write_only=True)
    password = serializers.CharField(label="密码", max_length=128, write_only=True, trim_whitespace=False)
    token = serializers.CharField(label="令牌", read_only=True)


class TokenOutput(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField()


class RevokeInput(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField(
        required=False, max_length=150, help_text="要注销其令牌的用户（仅管理员）；默认为当前用户自己"
    )


class ObtainToken(ObtainAuthToken):
    """``POST auth/token/`` — refused for users who no longer hold any role; attempts are throttled."""

    serializer_class = TokenInput
    throttle_classes = (LoginRateThrottle,)
    parser_classes = (StrictJSONParser, FormParser, MultiPartParser)

    @extend_schema(request=TokenInput, responses=TokenOutput, auth=[], summary="用户名和密码换取令牌")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        actor_for(user)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    def throttled(self, request: Request, wait: float | None) -> None:
        raise LoginThrottled(wait)


class RevokeToken(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """``POST auth/token/revoke/`` — the caller's own token (logout), or any user's for an admin."""

    serializer_class = RevokeInput
    permission_classes = [IsAuthenticated]  # read-only roles too may log out

    @extend_schema(request=RevokeInput, responses={204: None}, summary="注销令牌（此后使用该令牌的请求返回401）")
    def post(self, request: Request) -> Response:
        data = validated(RevokeInput, request.data)
        actor = actor_of(request)
        username = data.get("username", actor.username)
        if username != actor.username:
            require_role(actor, frozenset(), "注销他人的登录令牌")
            if not get_user_model().objects.filter(username=username).exists():
                raise StaffNotFound(username=username)
        Token.objects.filter(user__username=username).delete()
        return Response(status=204)
