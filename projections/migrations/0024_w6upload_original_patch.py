from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projections", "0023_w5admin_notification_ack"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="original_patch_sha256",
            field=models.CharField(max_length=64, null=True),
        ),
    ]
