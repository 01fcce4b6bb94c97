"""Authentication and the acting user: a Django login resolved to the role and unit held right now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings

from domain.policy import Actor, Requirement, Role, require_writer
from projections.directory import StaffInterval, appointment_at, appointment_now


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
        found = LoginQuery.of(self.get_model()).run(key, timezone.now())
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, role, unit = found
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user._actor = Actor(username=user.get_username(), role=Role(role), unit=unit) if role else _unappointed(user)
        return user, token


class LoginQuery:
    """The token, its user and the user's appointment now (``appointment_now``), in one statement that the ORM
    compiles once per process and database; each request runs that SQL with its own key and time. Compiling the
    query — the token, the user's columns, two subqueries on the appointments — took more of a command's time
    than running it."""

    _KEY = "\x00login-key\x00"  # stand-ins, found again among the compiled statement's parameters
    _NOW = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    _compiled: dict[tuple[type[Model], str], LoginQuery] = {}

    @classmethod
    def of(cls, model: type[Model]) -> LoginQuery:
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        query = cls._compiled.get((model, vendor))
        if query is None:
            query = cls._compiled[(model, vendor)] = cls(model)
        return query

    def __init__(self, model: type[Model]) -> None:
        user_model = model._meta.get_field("user").related_model
        self.model, self.user_model = model, user_model
        self.token_fields = [f.attname for f in model._meta.concrete_fields]
        self.user_fields = [f.attname for f in user_model._meta.concrete_fields]  # type: ignore[union-attr]
        rows = model.objects.filter(key=self._KEY).annotate(**appointment_now(OuterRef("user__username"), self._NOW))
        rows = rows.values_list(
            *self.token_fields, *(f"user__{f}" for f in self.user_fields), "appointment_role", "appointment_unit"
        )
        self.compiler = rows.query.get_compiler(DEFAULT_DB_ALIAS)
        self.sql, params = self.compiler.as_sql()
        now = self._adapted(self._NOW)
        self.is_key = [p == self._KEY for p in params]
        if any(not is_key and p != now for is_key, p in zip(self.is_key, params, strict=True)):
            raise ImproperlyConfigured(f"the login query has a parameter other than the key and the time: {params}")

    @staticmethod
    def _adapted(now: datetime) -> Any:
        return StaffInterval._meta.get_field("valid_from").get_db_prep_value(now, connections[DEFAULT_DB_ALIAS])

    def run(self, key: str, now: datetime) -> tuple[Model, str, UUID | None] | None:
        """The token (its ``user`` set) and the role and unit held at ``now``; None for an unknown key."""
        at = self._adapted(now)
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(self.sql, [key if is_key else at for is_key in self.is_key])
            rows = cursor.fetchall()
        for values in self.compiler.results_iter(results=[rows]):
            tokens = len(self.token_fields)
            token = self.model.from_db(DEFAULT_DB_ALIAS, self.token_fields, values[:tokens])
            users = tokens + len(self.user_fields)
            token.user = self.user_model.from_db(DEFAULT_DB_ALIAS, self.user_fields, values[tokens:users])  # type: ignore[union-attr, attr-defined]
            return token, values[users], values[users + 1]
        return None


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
