"""The notifications get a tracked position of their own (``runner.NOTIFICATIONS_POSITION``): without Kafka they
are now applied after each command's commit, no longer in its transaction. Before, they were projected with the
read models, so an installation without Kafka starts their position at the read models'. With Kafka they were
the `notifications` group's (its offsets): no position is made, and should the installation ever run without
Kafka, the notifications catch up from the start of the log (a replay adds no notice twice)."""

from typing import Any

from django.conf import settings
from django.db import migrations


def start_at_read_models(apps: Any, schema_editor: Any) -> None:
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        return
    position = apps.get_model("projections", "ProjectionPosition")
    read_models = position.objects.filter(name="read_models").first()
    if read_models is not None:
        position.objects.get_or_create(name="notifications", defaults={"position": read_models.position})


class Migration(migrations.Migration):
    dependencies = [("projections", "0015_kafka_drop_applied_version")]

    operations = [migrations.RunPython(start_at_read_models, migrations.RunPython.noop)]
