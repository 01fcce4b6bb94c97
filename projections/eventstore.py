"""The one place the event-sourced application is built and shared, over Django's own database and connection.

One database per installation: the library's event table lives beside the read models (embedded: one SQLite
file; production: one PostgreSQL database), and its recorder writes on Django's connection
(``projections.djangorecorder``), so a command's events and everything they change commit in one transaction.
"""

from __future__ import annotations

import threading

from projections.djangorecorder import InlineApplication, inline_env

_lock = threading.Lock()
_application: InlineApplication | None = None


def application_env(create_table: bool = False) -> dict[str, str]:
    """Persistence settings for the library: Django's default database, through Django's connection."""
    return inline_env(create_table=create_table)


def get_application() -> InlineApplication:
    global _application
    with _lock:
        if _application is None:
            _application = new_application()
        return _application


def new_application(env: dict[str, str] | None = None) -> InlineApplication:
    """The application over this store, sealing police-only content under the police-held key."""
    return InlineApplication(env or application_env())


def set_application(application: InlineApplication | None, *, close_previous: bool = True) -> None:
    """Swap the shared application (tests use a fresh store per test)."""
    global _application
    with _lock:
        if close_previous and _application is not None and _application is not application:
            _application.close()
        _application = application
