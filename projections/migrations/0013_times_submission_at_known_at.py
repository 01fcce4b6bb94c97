"""A submission's two times: ``as_of`` becomes ``at`` (the moment described); ``known_at`` (what the system knew)
is added, filled for earlier submissions with their submission time (their reports were made from what was known
then), as the projector fills it from events that lack it."""

from django.db import migrations, models


def known_when_submitted(apps, schema_editor):  # type: ignore[no-untyped-def]
    SubmissionView = apps.get_model("projections", "SubmissionView")
    SubmissionView.objects.filter(known_at__isnull=True).update(known_at=models.F("submitted_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("projections", "0012_corrections"),
    ]

    operations = [
        migrations.RenameField(model_name="submissionview", old_name="as_of", new_name="at"),
        migrations.AlterField(
            model_name="submissionview",
            name="at",
            field=models.DateTimeField(verbose_name="业务时间（所描述的时刻）"),
        ),
        migrations.AddField(
            model_name="submissionview",
            name="known_at",
            field=models.DateTimeField(null=True, verbose_name="记录时间（当时系统所知）"),
        ),
        migrations.RunPython(known_when_submitted, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="submissionview",
            name="known_at",
            field=models.DateTimeField(verbose_name="记录时间（当时系统所知）"),
        ),
    ]
