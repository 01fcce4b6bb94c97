"""The `notifications` and `police-mirror` consumer groups against the real broker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone
from kafkahelpers import drain, runner

from api import demo
from consumers.relay import Relay
from domain.application import SafetyApplication
from projections import integrity
from projections.integrity import ChainLink, Checkpoint
from projections.notifications import NotificationView, for_actor
from projections.policemirror import PoliceCheckpoint, PoliceEventCopy, PoliceFormMirror

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]
SECRET = "涉密：某教师家属纠纷，派出所已介入"


def publish_all(app: SafetyApplication) -> None:
    relay = Relay(app, batch_size=25)
    try:
        while relay.publish_once():
            pass
    finally:
        relay.close()


def test_notifications_group_addresses_the_same_notices_as_embedded_mode(
    kafka_world: demo.World, app: SafetyApplication
):
    publish_all(app)
    group = runner("notifications")
    try:
        drain(group)
    finally:
        group.close()
    assert NotificationView.objects.count() > 0
    assert set(for_actor(kafka_world.actor("hm_staff2")).values_list("kind", flat=True)) == {
        "deadline_missed",
        "supervised",
    }
    assert set(for_actor(kafka_world.actor("tn_inspector")).values_list("kind", flat=True)) == {
        "deadline_missed",
        "escalated",
    }
    assert not for_actor(kafka_world.actor("ql_principal")).exists()


def test_police_mirror_keeps_forms_sensitive_notes_and_checkpoints(
    kafka_world: demo.World, app: SafetyApplication, settings: Any
):
    settings.CHECKPOINT_EVERY = 10
    form = app.open_joint_form(
        actor=kafka_world.actor("hm_principal"),
        campaign=kafka_world.campaign,
        school=kafka_world.units["hongmei_school"],
    )
    app.update_joint_form(form.id, actor=kafka_world.actor("hm_principal"), changes={"guards_total": 4})
    app.update_joint_form(
        form.id,
        actor=kafka_world.actor("hm_officer"),
        changes={"surrounding_order_hotspots": "校门口早晚高峰摊贩占道", "sensitive_notes": SECRET},
    )
    publish_all(app)
    mirror = runner("police-mirror")
    try:
        drain(mirror)
    finally:
        mirror.close()

    copy = PoliceFormMirror.objects.get(id=form.id)
    assert copy.fields["sensitive_notes"] == SECRET and copy.fields["guards_total"] == 4
    # What the police received holds the note sealed only: they open it with their key.
    received = json.dumps(list(PoliceEventCopy.objects.values_list("data", flat=True)), ensure_ascii=False)
    assert SECRET not in received
    assert PoliceEventCopy.objects.filter(type="recorded", data__changes__sensitive_notes__enc="aes-gcm").exists()
    assert copy.version == 3 and copy.last_hash == integrity.hash_of(form.id, 3)
    assert PoliceEventCopy.objects.count() == ChainLink.objects.count() == app.recorder.max_notification_id()
    assert all(
        PoliceEventCopy.objects.get(position=link.position).hash == link.hash for link in ChainLink.objects.all()
    )
    checkpoints = list(PoliceCheckpoint.objects.order_by("position"))
    assert len(checkpoints) == Checkpoint.objects.count() >= 5
    assert all(c.signature_valid and c.matches_received for c in checkpoints)
    assert timezone.now() >= checkpoints[-1].signed_at
