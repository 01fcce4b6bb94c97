"""PostgreSQL: attachment bytes stored out of line without compression (``STORAGE EXTERNAL``).

Photos (JPEG, PNG, WebP) and most PDFs are compressed already; under the default ``EXTENDED`` storage PostgreSQL
ran pglz over every blob and kept it uncompressed anyway — about 120 ms of a 5 MB photo's 180 ms insert
(BENCHMARKS.md, "Attachments (issue 16)"). Rows stored before keep their form; both are read alike.
"""

from django.db import migrations


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("ALTER TABLE projections_storedfile ALTER COLUMN content SET STORAGE EXTERNAL")


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("ALTER TABLE projections_storedfile ALTER COLUMN content SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("projections", "0017_upload_attachments")]
    operations = [migrations.RunPython(forward, backward)]
