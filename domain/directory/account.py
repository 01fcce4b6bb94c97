"""A login's own record in the directory (``Account``): password changes and resets, notices signed for (签收)."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue, NotFound
from domain.eventversions import versions

ACCOUNT_NAMESPACE = uuid5(NAMESPACE_URL, "school-safety/account")


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "提醒不存在"


def account_id(username: str) -> UUID:
    return uuid5(ACCOUNT_NAMESPACE, username)


def notice_key(hazard: UUID, hazard_version: int) -> str:
    """A notice is known by the hazard event that caused it (``projections.notifications``)."""
    return f"{hazard}/{hazard_version}"


@versions()  # every event class at version 1
class Account(Aggregate):
    """A login's own record in the directory: password changes and resets, notices signed for (签收).

    One per username, opened by its first event, for every login — superusers without an appointment included,
    which is why this is not ``Staff``. The password and its hash are never in an event: the log is kept forever,
    copied to Kafka and the police mirror, and read by auditors; a hash there could be attacked offline and could
    never be taken back. The hash lives in Django's auth table as before; the log records *that* the password
    changed, for whom, by whom (the user, or an administrator's reset) and when — enough to answer "who reset
    this account on that day" in an audit.
    """

    @staticmethod
    def create_id(username: str, **_: object) -> UUID:
        return account_id(username)

    @event("Opened")
    def __init__(self, *, username: str, actor: str, occurred_at: datetime) -> None:
        self.username = username
        self.acknowledged: dict[str, datetime] = {}  # notice_key → when it was signed for
        self.password_changed_at: datetime | None = None
        self.last_occurred_at = occurred_at

    @classmethod
    def open(cls, *, username: str, actor: str, occurred_at: datetime) -> Account:
        if not username.strip():
            raise InvalidValue("用户名不能为空", field="username")
        return cls(username=username, actor=actor, occurred_at=occurred_at)

    def change_password(self, *, actor: str, occurred_at: datetime) -> None:
        """The user changed their own password (the old one was checked by the caller)."""
        self._password_changed(actor=actor, occurred_at=occurred_at)

    @event("PasswordChanged")
    def _password_changed(self, *, actor: str, occurred_at: datetime) -> None:
        self.password_changed_at = occurred_at
        self.last_occurred_at = occurred_at

    def reset_password(self, *, actor: str, occurred_at: datetime) -> None:
        """An administrator set a new password for this user (the policy is checked by the command)."""
        self._password_reset(actor=actor, occurred_at=occurred_at)

    @event("PasswordReset")
    def _password_reset(self, *, actor: str, occurred_at: datetime) -> None:
        self.password_changed_at = occurred_at
        self.last_occurred_at = occurred_at

    def acknowledged_at(self, hazard: UUID, hazard_version: int) -> datetime | None:
        return self.acknowledged.get(notice_key(hazard, hazard_version))

    def acknowledge(
        self,
        *,
        hazard: UUID,
        hazard_version: int,
        unit: UUID | None,
        role: str,
        actor: str,
        occurred_at: datetime,
    ) -> bool:
        """签收 a notice; False (and no event) when it was signed for already: a second 签收 changes nothing.
        ``unit`` and ``role`` are those the user held when signing — a notice to a unit, or to a role in it, is
        signed for by whoever of it signs first."""
        if self.acknowledged_at(hazard, hazard_version) is not None:
            return False
        self._notice_acknowledged(
            hazard=hazard, hazard_version=hazard_version, unit=unit, role=role, actor=actor, occurred_at=occurred_at
        )
        return True

    @event("NoticeAcknowledged")
    def _notice_acknowledged(
        self,
        *,
        hazard: UUID,
        hazard_version: int,
        unit: UUID | None,
        role: str,
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.acknowledged[notice_key(hazard, hazard_version)] = occurred_at
        self.last_occurred_at = occurred_at
