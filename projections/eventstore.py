"""The one place the event-sourced application is built and shared: SQLite file or PostgreSQL."""

from __future__ import annotations

import threading

from django.conf import settings
from django.db import connections

from domain.application import SafetyApplication
from projections.policekey import police_cipher

_lock = threading.Lock()
_application: SafetyApplication | None = None


def application_env(create_table: bool = False) -> dict[str, str]:
    """Persistence settings for the library, derived from Django's default database."""
    db = connections["default"].settings_dict
    if connections["default"].vendor == "postgresql":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(db["NAME"]),
            "POSTGRES_HOST": str(db["HOST"] or "127.0.0.1"),
            "POSTGRES_PORT": str(db["PORT"] or "5432"),
            "POSTGRES_USER": str(db["USER"]),
            "POSTGRES_PASSWORD": str(db["PASSWORD"]),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    settings.EVENT_STORE_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(settings.EVENT_STORE_SQLITE)}


def get_application() -> SafetyApplication:
    global _application
    with _lock:
        if _application is None:
            _application = new_application(application_env())
        return _application


def new_application(env: dict[str, str]) -> SafetyApplication:
    """The application over this store, sealing police-only content under the police-held key."""
    return SafetyApplication(env=env, police_cipher=police_cipher())


def set_application(application: SafetyApplication | None, *, close_previous: bool = True) -> None:
    """Swap the shared application (tests use a fresh store per test)."""
    global _application
    with _lock:
        if close_previous and _application is not None and _application is not application:
            _application.close()
        _application = application
