"""Key rotation (issue 18 §4): checkpoints carry their key id, old checkpoints keep verifying under their own key
after `rotate_signing_key`, `audit/public-key/` lists every key with the log positions it may sign, and a key marked
compromised after position N fails only the checkpoints it signed after N — judged by position, against the
police-side mirror's copy of the key history too.

The mirror is fed here by its consumer group's own decode/apply (``consumers.groups.police_mirror_group``) with
what the relay hands to its producer (a recording producer, no broker); ``test_the_mirror_keeps_the_rotation_*``
runs the same through the real broker (marked `kafka`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api import demo
from api.management.commands.mark_key_compromised import Command as MarkCommand
from api.management.commands.rotate_signing_key import Command as RotateCommand
from consumers.groups import police_mirror_group
from consumers.relay import Relay
from domain.application import SafetyApplication
from projections import integrity
from projections.integrity import Checkpoint
from projections.policemirror import PoliceCheckpoint
from projections.signingkeys import PoliceSigningKey, SigningKey

pytestmark = pytest.mark.django_db(transaction=True)
POSTGRES = connection.vendor == "postgresql"


@pytest.fixture
def keys(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Embedded-mode key storage in a temporary keys file; the signing key as configured (restored afterwards)."""
    monkeypatch.delenv("INTEGRITY_SIGNING_KEY", raising=False)
    settings.KEYS_FILE = tmp_path / "keys.json"
    settings.INTEGRITY_SIGNING_KEY = settings.INTEGRITY_SIGNING_KEY  # the command's change is undone after the test
    settings.CHECKPOINT_EVERY = 2
    return settings.KEYS_FILE  # type: ignore[no-any-return]


def discover(client: APIClient, world: demo.World, i: int) -> None:
    answer = client.post(
        "/api/v1/hazards/",
        {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "item": "CZ-01",
         "severity": "general", "description": f"轮换隐患{i}", "location": "操场"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content


def verify(app: SafetyApplication) -> integrity.Report:
    return integrity.verify(integrity.stored_events(app.recorder))


def rotate() -> str:
    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out)
    return out.getvalue()


def rewrite_checkpoint(position: int, **values: Any) -> None:
    """An intruder with direct database access (PostgreSQL: the superuser, past the append-only trigger)."""
    if POSTGRES:
        from pgadmin import superuser_connection

        with superuser_connection() as admin:
            admin.execute("SET session_replication_role = replica")
            for column, value in values.items():
                admin.execute(
                    f"UPDATE projections_checkpoint SET {column} = %s WHERE position = %s",  # noqa: S608 - test
                    (value, position),
                )
    else:
        Checkpoint.objects.filter(position=position).update(**values)


@dataclass
class Recorder:
    """What the relay hands to Kafka, acknowledged at once."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, topic: str, *, key: bytes, value: bytes) -> Any:
        self.messages.append((topic, json.loads(value)))
        return self

    def get(self, timeout: float | None = None) -> None:
        return None

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def relay_to_mirror(app: SafetyApplication, recorder: Recorder) -> None:
    """Run the relay, then hand what it published on the checkpoints topic to the police-mirror group."""
    already = len(recorder.messages)
    relay = Relay(app, producer_factory=lambda: recorder, batch_size=50)  # type: ignore[arg-type,return-value]
    while relay.publish_once():
        pass
    relay._publish_keys()  # caught up: a key change alone is still published
    group = police_mirror_group()
    for topic, body in recorder.messages[already:]:
        if topic.endswith(".checkpoints"):
            group.apply([group.decode(topic, body)])


@pytest.fixture
def rotated(
    world: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient], keys: Path, settings: Any
) -> dict[str, Any]:
    """Checkpoints signed by the first key, a rotation at the head, more checkpoints signed by the second."""
    staff = client_for("hm_staff")
    for i in range(3):
        discover(staff, world, i)
    old_public, old_seed = integrity.public_key_hex(), settings.INTEGRITY_SIGNING_KEY
    printed = rotate()
    head, _ = integrity.head()
    for i in range(3, 6):
        discover(staff, world, i)
    assert settings.INTEGRITY_SIGNING_KEY == json.loads(keys.read_text())["INTEGRITY_SIGNING_KEY"] != old_seed
    return {"old": old_public, "old_seed": old_seed, "new": integrity.public_key_hex(), "head": head,
            "printed": printed}  # fmt: skip


def test_old_checkpoints_keep_verifying_under_their_own_key_and_both_keys_are_listed(
    rotated: dict[str, Any],
    app: SafetyApplication,
    keys: Path,
    anonymous: APIClient,
    client_for: Callable[[str], APIClient],
):
    old, new, head = rotated["old"], rotated["new"], rotated["head"]
    assert old != new
    checkpoints = list(Checkpoint.objects.order_by("position"))
    before = [c for c in checkpoints if c.position <= head]
    after = [c for c in checkpoints if c.position > head]
    assert before and after, "checkpoints signed before and after the rotation"
    assert before[-1].position == head, "the old key signed a last checkpoint at the head"
    assert {c.public_key for c in before} == {old} and {c.public_key for c in after} == {new}
    old_id, new_id = before[0].key_id, after[0].key_id
    assert {c.key_id for c in before} == {old_id} and {c.key_id for c in after} == {new_id} and old_id != new_id

    report = verify(app)
    assert report.ok, report.problems
    out = io.StringIO()
    call_command("verify_integrity", stdout=out)
    assert out.getvalue().startswith("OK:")

    listed = anonymous.get("/api/v1/audit/public-key/").json()
    assert (listed["algorithm"], listed["public_key"], listed["key_id"]) == ("Ed25519", new, new_id)
    assert [
        (k["key_id"], k["public_key"], k["valid_from_position"], k["valid_until_position"]) for k in listed["keys"]
    ] == [(old_id, old, 0, head), (new_id, new, head + 1, None)]
    assert all(k["compromised_after_position"] is None for k in listed["keys"])
    served = client_for("auditor").get("/api/v1/audit/checkpoints/", {"limit": 1000}).json()["results"]
    assert {(c["position"], c["key_id"]) for c in served} == {(c.position, c.key_id) for c in checkpoints}

    # Without its key id an old checkpoint would be judged by the new key: its signature is not the new key's.
    assert not any(integrity.signature_valid(c.position, c.hash, c.signature, new) for c in before)
    rewrite_checkpoint(before[0].position, key_id=new_id)
    problems = [(p.kind, p.position) for p in verify(app).problems]
    assert problems == [("bad_signature", before[0].position)]


def test_a_checkpoint_the_retired_key_signs_after_its_period_is_refused(
    rotated: dict[str, Any], app: SafetyApplication
):
    """Whoever still holds the old private key cannot add checkpoints beyond the position the key was retired at."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    checkpoints = list(Checkpoint.objects.order_by("position"))
    late = checkpoints[-1]
    old_id = checkpoints[0].key_id
    seed = bytes.fromhex(rotated["old_seed"])
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(integrity.checkpoint_message(late.position, late.hash))
    rewrite_checkpoint(late.position, key_id=old_id, public_key=rotated["old"], signature=signature.hex())
    problems = [(p.kind, p.position) for p in verify(app).problems]
    assert problems == [("bad_signature", late.position)]


def test_a_compromised_key_fails_only_the_checkpoints_it_signed_after_the_position(
    rotated: dict[str, Any], app: SafetyApplication
):
    head = rotated["head"]
    checkpoints = list(Checkpoint.objects.order_by("position"))
    old = [c for c in checkpoints if c.position <= head]
    assert len(old) >= 2
    old_id = old[0].key_id
    n = old[0].position
    out = io.StringIO()
    call_command("mark_key_compromised", old_id, "--after-position", str(n), stdout=out)
    assert old_id in out.getvalue()
    report = verify(app)
    assert not report.ok
    assert [(p.kind, p.position) for p in report.problems] == [("key_compromised", c.position) for c in old[1:]]
    assert all(old_id in p.detail and str(n) in p.detail for p in report.problems)
    # The 审计 JSON names the kind too.
    assert {p["kind"] for p in report.as_dict()["problems"]} == {"key_compromised"}


def test_the_mirror_keeps_the_key_history_and_verification_judges_by_its_copy(
    rotated: dict[str, Any], app: SafetyApplication
):
    head = rotated["head"]
    recorder = Recorder()
    relay_to_mirror(app, recorder)
    old_id = SigningKey.objects.get(public_key=rotated["old"]).key_id
    new_id = SigningKey.objects.get(public_key=rotated["new"]).key_id
    mirrored = {k.key_id: k for k in PoliceSigningKey.objects.all()}
    assert set(mirrored) == {old_id, new_id}
    assert (mirrored[old_id].public_key, mirrored[old_id].valid_until_position) == (rotated["old"], head)
    assert (mirrored[new_id].valid_from_position, mirrored[new_id].valid_until_position) == (head + 1, None)
    kept = list(PoliceCheckpoint.objects.order_by("position"))
    assert kept and all(c.signature_valid for c in kept)
    assert {c.key_id for c in kept} == {old_id, new_id}

    old = list(Checkpoint.objects.filter(position__lte=head).order_by("position"))
    n = old[0].position
    call_command("mark_key_compromised", old_id, "--after-position", str(n), stdout=io.StringIO())
    relay_to_mirror(app, recorder)
    assert PoliceSigningKey.objects.get(key_id=old_id).compromised_after_position == n
    invalid = set(PoliceCheckpoint.objects.filter(signature_valid=False).values_list("position", flat=True))
    assert invalid == {c.position for c in old[1:]}

    # Someone holding the old key and the education side's database undoes the mark and widens the key's period:
    # the police side's copy still judges by position.
    SigningKey.objects.filter(key_id=old_id).update(compromised_after_position=None, valid_until_position=None)
    problems = [(p.kind, p.position) for p in verify(app).problems]
    assert problems == [("key_compromised", c.position) for c in old[1:]]


@pytest.mark.kafka
def test_the_mirror_keeps_the_rotation_through_the_real_broker(
    kafka_world: demo.World, app: SafetyApplication, keys: Path, client_for: Callable[[str], APIClient]
):
    from kafkahelpers import drain, runner

    from projections.runner import catch_up

    catch_up(app)
    integrity.maybe_checkpoint(force=True)
    rotate()
    head, _ = integrity.head()
    staff = client_for("hm_staff")
    for i in range(5):
        discover(staff, kafka_world, i)
    relay = Relay(app, batch_size=50)
    try:
        while relay.publish_once():
            pass
    finally:
        relay.close()
    mirror = runner("police-mirror")
    try:
        drain(mirror)
    finally:
        mirror.close()
    assert [(k.valid_from_position, k.valid_until_position) for k in PoliceSigningKey.objects.order_by("revision")] == [
        (0, head),
        (head + 1, None),
    ]
    kept = list(PoliceCheckpoint.objects.order_by("position"))
    assert kept and all(c.signature_valid for c in kept) and kept[-1].position > head


# --- bad input: a plain message, exit status 1, nothing changed ---------------------------------------------------


def run(command: Any, *argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        command().run_from_argv(["manage.py", *argv])
    assert exited.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def snapshot(keys: Path) -> tuple[Any, ...]:
    return (
        list(SigningKey.objects.order_by("key_id").values()),
        list(Checkpoint.objects.order_by("position").values_list("position", "key_id")),
        keys.read_text() if keys.exists() else None,
    )


def test_bad_input_to_the_commands_changes_nothing(
    rotated: dict[str, Any], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    old_id = SigningKey.objects.get(public_key=rotated["old"]).key_id
    new_id = SigningKey.objects.get(public_key=rotated["new"]).key_id
    before = snapshot(keys)
    (tmp_path / "short.key").write_text("abc123")
    (tmp_path / "reused.key").write_text(rotated["old_seed"])
    assert "64" in run(RotateCommand, "rotate_signing_key", "--key-file", str(tmp_path / "short.key"), capsys=capsys)
    assert "无法读取" in run(RotateCommand, "rotate_signing_key", "--key-file", str(tmp_path / "no.key"), capsys=capsys)
    assert "已在登记簿" in run(
        RotateCommand, "rotate_signing_key", "--key-file", str(tmp_path / "reused.key"), capsys=capsys
    )
    assert "没有密钥" in run(MarkCommand, "mark_key_compromised", "ffff", "--after-position", "3", capsys=capsys)
    assert "现行密钥" in run(MarkCommand, "mark_key_compromised", new_id, "--after-position", "3", capsys=capsys)
    assert "负数" in run(MarkCommand, "mark_key_compromised", old_id, "--after-position", "-1", capsys=capsys)
    run(MarkCommand, "mark_key_compromised", old_id, "--after-position", "x", capsys=capsys)
    run(MarkCommand, "mark_key_compromised", old_id, capsys=capsys)
    assert snapshot(keys) == before
    # A mark can only move earlier, never later.
    call_command("mark_key_compromised", old_id, "--after-position", "5", stdout=io.StringIO())
    marked = snapshot(keys)
    assert "已标记" in run(MarkCommand, "mark_key_compromised", old_id, "--after-position", "9", capsys=capsys)
    assert snapshot(keys) == marked


def test_the_migration_registers_the_keys_of_the_checkpoints_already_signed(app: SafetyApplication):
    """0025 on an installation signed before key ids (PostgreSQL: past the checkpoints' append-only trigger): one
    key per public key in the order they first signed, the last one current, every checkpoint given its key id."""
    import importlib

    from django.apps import apps

    from projections.signingkeys import key_id_of, public_of

    migration = importlib.import_module("projections.migrations.0025_keys_signing_keys")
    first, second = public_of("11" * 32), public_of("22" * 32)
    now = timezone.now()
    for position, public in ((3, first), (6, first), (9, second)):
        Checkpoint.objects.create(
            position=position, hash="ab" * 32, signature="cd" * 64, public_key=public, signed_at=now
        )
    with connection.schema_editor() as editor:
        migration.register_existing(apps, editor)
    assert list(
        SigningKey.objects.order_by("revision").values_list("key_id", "valid_from_position", "valid_until_position")
    ) == [(key_id_of(first), 0, 6), (key_id_of(second), 7, None)]
    assert list(Checkpoint.objects.order_by("position").values_list("key_id", flat=True)) == [
        key_id_of(first),
        key_id_of(first),
        key_id_of(second),
    ]
