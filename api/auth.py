"""Authentication and the acting user: a Django login resolved to the role and unit held right now."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings

from domain.policy import Actor, Requirement, Role, require_writer
from projections.directory import appointment_at, appointment_now


class UserInactive(exceptions.AuthenticationFailed):
    default_detail = "该账号已停用"
    default_code = "user_inactive"


def actor_for(user: AbstractBaseUser) -> Actor:
    """The role and unit the user holds now; superusers without an appointment act as admin."""
    username = user.get_username()
    appointment = appointment_at(username, timezone.now())
    if appointment is not None:
        return Actor(username=username, role=Role(appointment.role), unit=appointment.unit)
    return _unappointed(user)


def _unappointed(user: AbstractBaseUser) -> Actor:
    username = user.get_username()
    if getattr(user, "is_superuser", False):
        return Actor(username=username, role=Role.ADMIN)
    raise UserInactive()


def actor_of(request: Request) -> Actor:
    """The request's actor, resolved once (authentication already resolved it to refuse inactive users)."""
    actor = getattr(request.user, "_actor", None)
    if actor is None:
        actor = actor_for(request.user)
        request.user._actor = actor  # type: ignore[union-attr]
    return actor


class ActorTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; refused once the user is deactivated or holds no role."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        """As DRF's, with the user's appointment now read by the same query as the token and the user (one
        round trip a request instead of two; ``actor_for`` gives the same actor)."""
        model = self.get_model()
        try:
            token = model.objects.select_related("user").annotate(**appointment_now(OuterRef("user__username")))
            token = token.get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role = token.appointment_role
        user._actor = (
            Actor(username=user.get_username(), role=Role(role), unit=token.appointment_unit)
            if role
            else _unappointed(user)
        )
        return user, token


class ActorSessionAuthentication(SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            result[0]._actor = actor_for(result[0])
        return result

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class WritersOnly(BasePermission):
    """Read-only roles (auditors) are refused every change before its body is read or its target looked up:
    403 ``read_only_role``, never a 400 about the body or a 409 about the target (authorization comes first)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method not in SAFE_METHODS and request.user is not None:
            require_writer(actor_of(request))
        return True


def requires(requirement: Requirement) -> list[type[BasePermission]]:
    """The default permissions plus ``requirement`` judged before a change's input is read (403 before 400/409)."""

    class RequirementMet(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            if request.method not in SAFE_METHODS and request.user is not None:
                requirement.check(actor_of(request))
            return True

    return [*api_settings.DEFAULT_PERMISSION_CLASSES, RequirementMet]
