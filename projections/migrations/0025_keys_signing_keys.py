"""Key rotation (issue 18 §4): the signing key registry, the police-side mirror's copy, and each checkpoint's key id.

The checkpoints already signed are registered: one key per distinct public key, in the order they first signed,
each valid up to its last checkpoint (the last one open: the current key), and every checkpoint gets its key's id.
The checkpoint table is append-only on PostgreSQL (0007): its trigger is disabled for that one update.
"""

import hashlib

from django.db import migrations, models
from django.utils import timezone


def key_id_of(public_hex):  # type: ignore[no-untyped-def]
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def register_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    Checkpoint = apps.get_model("projections", "Checkpoint")
    SigningKey = apps.get_model("projections", "SigningKey")
    PoliceCheckpoint = apps.get_model("projections", "PoliceCheckpoint")
    spans = {}
    for public, position in Checkpoint.objects.order_by("position").values_list("public_key", "position"):
        first, _ = spans.get(public, (position, position))
        spans[public] = (first, position)
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    start = 0
    now = timezone.now()
    for revision, (public, (_, last)) in enumerate(ordered, start=1):
        current = revision == len(ordered)
        SigningKey.objects.create(
            key_id=key_id_of(public),
            public_key=public,
            valid_from_position=start,
            valid_until_position=None if current else last,
            created_at=now,
            retired_at=None if current else now,
            revision=revision,
        )
        start = last + 1
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        if postgres and ordered:
            cursor.execute("ALTER TABLE projections_checkpoint DISABLE TRIGGER projections_checkpoint_append_only")
        for public, _ in ordered:
            Checkpoint.objects.filter(public_key=public).update(key_id=key_id_of(public))
        if postgres and ordered:
            cursor.execute("ALTER TABLE projections_checkpoint ENABLE TRIGGER projections_checkpoint_append_only")
    for public in set(PoliceCheckpoint.objects.values_list("public_key", flat=True)):
        PoliceCheckpoint.objects.filter(public_key=public).update(key_id=key_id_of(public))


class Migration(migrations.Migration):
    dependencies = [
        ("projections", "0024_w6upload_original_patch"),
    ]

    operations = [
        migrations.CreateModel(
            name="PoliceSigningKey",
            fields=[
                ("key_id", models.CharField(max_length=16, primary_key=True, serialize=False)),
                ("public_key", models.CharField(max_length=64)),
                ("valid_from_position", models.BigIntegerField()),
                ("valid_until_position", models.BigIntegerField(null=True)),
                ("compromised_after_position", models.BigIntegerField(null=True)),
                ("revision", models.BigIntegerField()),
                ("received_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "公安侧签名密钥副本",
                "verbose_name_plural": "公安侧签名密钥副本",
            },
        ),
        migrations.CreateModel(
            name="SigningKey",
            fields=[
                ("key_id", models.CharField(max_length=16, primary_key=True, serialize=False, verbose_name="密钥编号")),
                ("public_key", models.CharField(max_length=64, unique=True, verbose_name="公钥")),
                ("valid_from_position", models.BigIntegerField(verbose_name="有效起始日志位置")),
                ("valid_until_position", models.BigIntegerField(null=True, verbose_name="有效截止日志位置")),
                ("compromised_after_position", models.BigIntegerField(null=True, verbose_name="泄露起始日志位置")),
                ("created_at", models.DateTimeField()),
                ("retired_at", models.DateTimeField(null=True)),
                ("compromised_marked_at", models.DateTimeField(null=True)),
                ("revision", models.BigIntegerField(unique=True)),
            ],
            options={
                "verbose_name": "检查点签名密钥",
                "verbose_name_plural": "检查点签名密钥",
            },
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="key_id",
            field=models.CharField(default="", max_length=16, verbose_name="密钥编号"),
        ),
        migrations.AddField(
            model_name="policecheckpoint",
            name="key_id",
            field=models.CharField(default="", max_length=16),
        ),
        migrations.RunPython(register_existing, migrations.RunPython.noop),
    ]
