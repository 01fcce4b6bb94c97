"""One database per installation (embedded mode): the event log moves into Django's SQLite file.

The library's event table is created here, beside the read models. An installation written before this release
kept its log in a second file (``var/events.sqlite3``): its events are copied in with their log positions (the
chain, the checkpoints and the read models' positions refer to them), and the old file is renamed
``events.sqlite3.merged`` — kept, never read again. PostgreSQL already had the log in the same database (0002).
"""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.db import migrations, transaction

COLUMNS = "originator_id, originator_version, topic, state"


def one_database(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    from projections.djangorecorder import InlineApplication, inline_env

    InlineApplication(inline_env(create_table=True)).close()
    legacy = settings.LEGACY_EVENT_STORE_SQLITE
    if connection.is_in_memory_db() or not legacy.exists():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM stored_events")
        if cursor.fetchone()[0]:
            raise RuntimeError(f"both {legacy} and the installation's database hold events: merge refused")
    old = sqlite3.connect(legacy)
    try:
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything the old file holds, in the file itself
        tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        old.close()
    if "stored_events" in tables:
        with connection.cursor() as cursor:
            cursor.execute("ATTACH DATABASE %s AS legacy", [str(legacy)])
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute(
                        f"INSERT INTO main.stored_events (rowid, {COLUMNS}) "
                        f"SELECT rowid, {COLUMNS} FROM legacy.stored_events ORDER BY rowid"
                    )
            finally:
                cursor.execute("DETACH DATABASE legacy")
    for suffix in ("", "-wal", "-shm"):
        path = legacy.with_name(legacy.name + suffix)
        if path.exists():
            path.rename(path.with_name(legacy.name + ".merged" + suffix))


class Migration(migrations.Migration):
    atomic = False  # ATTACH cannot run inside a transaction; the copy has its own
    dependencies = [("projections", "0013_times_submission_at_known_at")]
    operations = [migrations.RunPython(one_database, migrations.RunPython.noop)]
