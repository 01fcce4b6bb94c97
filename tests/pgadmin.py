"""The test PostgreSQL server's superuser: what an intruder with direct database access could do."""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection


def superuser_connection() -> psycopg.Connection[Any]:
    """scripts/pg.sh serves loopback with trust auth; `postgres` is its superuser."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user="postgres", autocommit=True
    )
