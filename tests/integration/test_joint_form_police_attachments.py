"""Photos on a joint form's police-only content (issue 16 point 3: "attachments on police-only content only to police
units"), over HTTP with real JPEGs: the station's officer attaches them to ``sensitive_notes``; their refs are sealed
with the police-only values in the form's ``PoliceNotes`` (never on the form's events, its history or its content
hash); the upload is pinned; only users of police units are served it — before and after a rebuild."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.demo import World
from consumers import envelope
from domain.application import SafetyApplication
from domain.jointform.police import notes_id
from projections import integrity, policemirror
from projections.attachments import Attachment, StoredFile, blob_name
from projections.attachmentuse import AttachmentUse

from apihelpers import API, jpeg, ok, post, refused, upload

Client = Callable[[str], APIClient]
POLICE = ("hm_officer", "hm_chief", "cz_police")  # the station's officer and chief, the city police
EDUCATION = ("hm_staff", "hm_principal", "tn_inspector")  # the school's staff and principal, the district bureau
NOTE = "线索：校门口可疑车辆（机密-A6-0931）"


def patch(client: APIClient, form: str, body: dict[str, Any]) -> Any:
    return client.patch(f"{API}joint-forms/{form}/", body, format="json")


def history(client: APIClient, form: str) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}joint-forms/{form}/history/"))  # type: ignore[no-any-return]


def stored_bytes(app: SafetyApplication) -> bytes:
    return b"".join(bytes(n.state) for n in app.recorder.select_notifications(start=1, limit=10_000))


def open_form(user: Client, world: World) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    return str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])


def attach_to_notes(user: Client, form: str) -> dict[str, Any]:
    officer = user("hm_officer")
    photo = upload(officer, jpeg(color=(13, 31, 131)), "可疑车辆.jpg")
    ok(patch(officer, form, {"sensitive_notes": NOTE, "attachments": {"sensitive_notes": [photo["id"]]}}))
    return photo  # type: ignore[no-any-return]


def assert_police_only(user: Client, form: str, photo: dict[str, Any], school_view: dict[str, Any]) -> None:
    """Served to police units only; the education side's form and history show nothing of it."""
    for who in POLICE:
        served = user(who).get(photo["url"])
        assert served.status_code == 200, who
        assert served["X-Content-SHA256"] == photo["sha256"], who
        assert user(who).get(photo["thumbnail_url"]).status_code == 200, who
        shown = ok(user(who).get(f"{API}joint-forms/{form}/"))
        assert shown["fields"]["sensitive_notes"] == NOTE, who
        assert [a["id"] for a in shown["attachments"]["sensitive_notes"]] == [photo["id"]], who
    for who in EDUCATION:
        assert user(who).get(photo["url"]).status_code == 404, who
        assert user(who).get(photo["thumbnail_url"]).status_code == 404, who
        seen = ok(user(who).get(f"{API}joint-forms/{form}/"))
        assert seen == school_view, who  # as before the photo (and the note) existed
        assert photo["id"] not in str(history(user(who), form)), who
        assert photo["sha256"] not in str(seen) + str(history(user(who), form)), who
    for who in ("ql_staff", "ql_chief", "auditor"):  # another school; another station; an auditor (no police unit)
        assert user(who).get(photo["url"]).status_code == 404, who


def test_the_station_attaches_a_photo_to_police_only_content(
    app: SafetyApplication, user: Client, world: World
) -> None:
    form = open_form(user, world)
    before = {who: ok(user(who).get(f"{API}joint-forms/{form}/")) for who in EDUCATION}
    form_events = len(list(app.events.get(form)))  # type: ignore[arg-type]

    photo = attach_to_notes(user, form)

    # The form itself did not move: no event, same version and content hash; the refs are sealed in its notes.
    assert len(list(app.events.get(form))) == form_events  # type: ignore[arg-type]
    stored = stored_bytes(app)
    for secret in (photo["id"], photo["sha256"], NOTE):
        assert secret.encode() not in stored, secret
    assert Attachment.objects.get(id=photo["id"]).pinned  # pinned by the command's transaction
    (use,) = AttachmentUse.objects.filter(attachment=photo["id"])
    assert (use.kind, use.school, use.police_only) == ("jointform", world.units["hongmei_school"], True)
    assert use.aggregate == notes_id(UUID(form))  # recorded by the form's police-only stream
    for who in EDUCATION:
        assert ok(user(who).get(f"{API}joint-forms/{form}/")) == before[who], who
    assert_police_only(user, form, photo, before["hm_staff"])
    for who in EDUCATION[1:]:
        assert ok(user(who).get(f"{API}joint-forms/{form}/")) == before[who], who

    # The station's history lists it, in the police-only stream, with the note.
    (item,) = [i for i in history(user("hm_chief"), form) if i["attachments"]]
    assert item["stream"] == "police_notes" and item["data"]["changes"] == {"sensitive_notes": NOTE}
    (listed,) = item["attachments"]
    assert (listed["id"], listed["field"], listed["sha256"]) == (photo["id"], "sensitive_notes", photo["sha256"])
    assert listed["filename"] == "可疑车辆.jpg"


def test_police_only_attachments_replaced_and_removed(user: Client, world: World) -> None:
    form = open_form(user, world)
    officer = user("hm_officer")
    first = attach_to_notes(user, form)
    second = upload(officer, jpeg(color=(77, 7, 7)))
    body = ok(patch(officer, form, {"attachments": {"sensitive_notes": [second["id"]]}}))
    assert [a["id"] for a in body["attachments"]["sensitive_notes"]] == [second["id"]]
    cleared = ok(patch(officer, form, {"attachments": {"sensitive_notes": []}}))
    assert "sensitive_notes" not in cleared["attachments"]
    # Both were recorded on police-only content: police units still see them (the history lists them), never the school.
    for photo in (first, second):
        assert user("hm_chief").get(photo["url"]).status_code == 200
        assert user("hm_principal").get(photo["url"]).status_code == 404


def test_the_school_cannot_attach_to_police_only_content(app: SafetyApplication, user: Client, world: World) -> None:
    form = open_form(user, world)
    staff = user("hm_staff")
    photo = upload(staff, jpeg(color=(5, 5, 5)))
    before = app.recorder.max_notification_id()
    refused(patch(staff, form, {"attachments": {"sensitive_notes": [photo["id"]]}}), 403, "field_not_yours")
    assert app.recorder.max_notification_id() == before
    assert not Attachment.objects.get(id=photo["id"]).pinned


def test_verify_checks_the_police_only_photos_blobs(user: Client, world: World) -> None:
    """A swapped photo of police-only content is named (its form, the police-only stream's event) — in full only to
    police units; an education verifier learns that some attachment failed, not which, nor where."""
    form = open_form(user, world)
    photo = attach_to_notes(user, form)
    StoredFile.objects.filter(name=blob_name(photo["sha256"])).update(content=b"\xff\xd8\xff another photo")

    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_integrity", stdout=io.StringIO(), stderr=err)
    assert exited.value.code == 1
    assert (
        "blob_modified" in err.getvalue() and photo["id"] in err.getvalue() and f"联合检查表 {form}" in err.getvalue()
    )

    (named,) = [p for p in ok(user("cz_police").get(f"{API}audit/verify/"))["problems"] if p["kind"] == "blob_modified"]
    assert named["attachment"] == photo["id"] and named["subject"] == {"kind": "jointform", "id": form, "number": None}
    assert named["event"]["type"] == "recorded" and named["blob"] == "sha256"
    for who in ("tn_inspector", "auditor"):  # the school's district bureau; an auditor (not a police unit)
        report = ok(user(who).get(f"{API}audit/verify/"))
        (hidden,) = [p for p in report["problems"] if p["kind"] == "blob_modified"]
        assert photo["id"] not in str(report) and form not in str(report), who
        assert "attachment" not in hidden and "subject" not in hidden, who


@pytest.mark.django_db(transaction=True)  # PostgreSQL: the rebuild's worker processes need the world committed
def test_police_only_photos_are_rebuilt_from_the_log(user: Client, world: World) -> None:
    form = open_form(user, world)
    before = ok(user("hm_staff").get(f"{API}joint-forms/{form}/"))
    photo = attach_to_notes(user, form)
    fields = ("attachment", "aggregate", "kind", "version", "event", "school", "police_only")
    projected = sorted(AttachmentUse.objects.values_list(*fields))
    shown = ok(user("hm_officer").get(f"{API}joint-forms/{form}/"))

    call_command("rebuild_projections", stdout=io.StringIO())

    assert sorted(AttachmentUse.objects.values_list(*fields)) == projected
    assert ok(user("hm_officer").get(f"{API}joint-forms/{form}/")) == shown
    assert_police_only(user, form, photo, before)


def test_the_police_mirror_keeps_the_police_only_photos_hashes(
    app: SafetyApplication, user: Client, world: World
) -> None:
    """The Kafka envelope carries the sealed refs as the log holds them; the police-side mirror opens them."""
    form = open_form(user, world)
    photo = attach_to_notes(user, form)
    notes = notes_id(UUID(form))
    copies = {}
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        if n.originator_id != notes:
            continue
        event = app.mapper.to_domain_event(n)
        chain_hash = integrity.hash_of(notes, n.originator_version)
        assert chain_hash is not None
        body = envelope.parse(envelope.encode(envelope.build(n, event, chain_hash, world.units["hongmei_school"])))
        assert photo["sha256"] not in json.dumps(body)  # sealed on the wire as in the log
        policemirror.apply_event(body)
        copies[body["type"]] = policemirror.PoliceEventCopy.objects.get(position=n.id)
    keys = ("id", "sha256", "sha256_original", "size", "content_type")
    assert copies["recorded"].attachments == [{**{k: photo[k] for k in keys}, "field": "sensitive_notes"}]
    assert copies["opened"].attachments == []
