"""PostgreSQL: stored events (and the hash chain and checkpoints over them) can be added, never changed.

Row-level BEFORE UPDATE OR DELETE triggers raise, and a statement-level BEFORE TRUNCATE trigger on the event
table too, so the application's role cannot rewrite history even though it must own the table for the
library's ``LOCK TABLE``. (A database superuser can still disable triggers: that is what the hash chain and the
signed checkpoints are for.)
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION safety_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""

ROW_TABLES = ("safetyapp_events", "projections_chainlink", "projections_checkpoint")


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        for table in ROW_TABLES:
            cursor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION safety_append_only()"
            )
        cursor.execute(
            "CREATE TRIGGER safetyapp_events_no_truncate BEFORE TRUNCATE ON safetyapp_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION safety_append_only()"
        )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS safetyapp_events_no_truncate ON safetyapp_events")
        for table in ROW_TABLES:
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS safety_append_only()")


class Migration(migrations.Migration):
    dependencies = [("projections", "0006_kafka_integrity_notifications")]
    operations = [migrations.RunPython(forward, backward)]
