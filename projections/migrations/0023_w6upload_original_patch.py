from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projections", "0022_a6police_police_attachments"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="original_patch_sha256",
            field=models.CharField(max_length=64, null=True),
        ),
    ]
