from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projections", "0021_jf_attachments"),
    ]

    operations = [
        migrations.AddField(
            model_name="jointformview",
            name="police_attachments",
            field=models.JSONField(default=dict, verbose_name="公安专属附件"),
        ),
    ]
