"""Shared test set-up: a fresh event store per test, in SQLite or in the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from pgadmin import superuser_connection

from domain.application import SafetyApplication
from projections.eventstore import new_application, set_application


@pytest.fixture(scope="session")
def _postgres_application(django_db_setup: None, django_db_blocker: object) -> Iterator[SafetyApplication | None]:
    """One PostgreSQL-backed application for the session (its tables come from the migration)."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        if connection.vendor != "postgresql":
            yield None
            return
        app = new_application()
    yield app
    app.close()


def empty_event_log() -> None:
    """The event log is in Django's database but not one of its models: tests that commit (live servers,
    ``transactional_db``) would leave their events to the next test. On PostgreSQL the table is append-only for the
    application (triggers): the superuser bypasses them to reset it."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM stored_events")
        return
    with superuser_connection() as admin:
        admin.execute("SET session_replication_role = replica")
        admin.execute("TRUNCATE TABLE safetyapp_events RESTART IDENTITY")


@pytest.fixture
def app(_postgres_application: SafetyApplication | None, db: None) -> Iterator[SafetyApplication]:
    """The application the API uses during this test, over an empty event log."""
    empty_event_log()
    application = _postgres_application or new_application()
    set_application(application)
    yield application
    set_application(None, close_previous=_postgres_application is None)


@pytest.fixture(autouse=True)
def _no_login_attempts_yet() -> None:
    """Login attempts are counted in the (per-process) cache for throttling: each test starts with none."""
    cache.clear()
