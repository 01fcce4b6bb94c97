"""Create the event store's tables (the eventsourcing library's own DDL) in PostgreSQL mode.

In embedded mode the table is created in Django's SQLite file by 0014 (one database per installation).
"""

from django.db import migrations


def create_event_store(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    from projections.eventstore import application_env
    from domain.application import SafetyApplication

    SafetyApplication(env=application_env(create_table=True)).close()


class Migration(migrations.Migration):
    dependencies = [("projections", "0001_initial")]
    operations = [migrations.RunPython(create_event_store, migrations.RunPython.noop)]
