"""Photos on the joint form's fields (issue 16 points 2 and 3), over HTTP with real JPEGs: a party attaches uploads
to its own fields in the PATCH (``attachments: {field key: [id, …]}``), the change voids a signature like a value's,
the history lists them, whoever sees the form sees them, a swapped one is named by verify. Photos on police-only
content: ``test_joint_form_police_attachments.py``."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.jointform.aggregate import content_hash
from projections.attachments import StoredFile, blob_name
from projections.attachmentuse import AttachmentUse
from projections.integrity import ChainLink
from projections.jointforms import JointFormView

from apihelpers import API, fill_joint_form, jpeg, ok, post, refused, upload

Client = Callable[[str], APIClient]


@pytest.fixture
def form(world: World, user: Client) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    return str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])


def patch(client: APIClient, form: str, body: dict[str, Any]) -> Any:
    return client.patch(f"{API}joint-forms/{form}/", body, format="json")


def sign(client: APIClient, form: str, content_hash: str) -> Any:
    return ok(client.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"))


def history(client: APIClient, form: str) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}joint-forms/{form}/history/"))  # type: ignore[no-any-return]


def test_a_school_attaches_a_photo_to_its_field(user: Client, world: World, form: str) -> None:
    staff, officer, principal = user("hm_staff"), user("hm_officer"), user("hm_principal")
    fill_joint_form(staff, officer, form)
    before = ok(principal.get(f"{API}joint-forms/{form}/"))
    signed = sign(principal, form, before["content_hash"])
    assert [s["valid"] for s in signed["signatures"]] == [True]

    photo = upload(staff, jpeg(), "保安员在岗.jpg")
    body = ok(patch(staff, form, {"attachments": {"guards_total": [photo["id"]]}}))
    (attached,) = body["attachments"]["guards_total"]
    assert (attached["id"], attached["sha256"]) == (photo["id"], photo["sha256"])
    assert body["content_hash"] != before["content_hash"] and body["fields"] == before["fields"]
    assert [(s["voided"], s["valid"]) for s in body["signatures"]] == [(True, False)]  # like a value's change

    items = history(staff, form)
    (item,) = [i for i in items if i["attachments"]]
    assert item["type"] == "fields_updated" and item["data"]["changes"] == {}
    (listed,) = item["attachments"]
    assert (listed["id"], listed["field"], listed["filename"]) == (photo["id"], "guards_total", "保安员在岗.jpg")
    assert listed["sha256"] == photo["sha256"] and listed["url"].endswith(f"/attachments/{photo['id']}/")
    assert [i["type"] for i in items][-1] == "signature_voided"

    use = AttachmentUse.objects.get(attachment=photo["id"])
    assert (use.kind, use.school, use.police_only) == ("jointform", world.units["hongmei_school"], False)
    for who in ("hm_officer", "hm_principal", "tn_inspector"):  # the station, the school, the district's bureau
        served = user(who).get(photo["url"])
        assert served.status_code == 200 and served["X-Content-SHA256"] == photo["sha256"], who
    for who in ("ql_staff", "ql_chief"):  # another school, another school's station
        assert user(who).get(photo["url"]).status_code == 404, who

    # The same list again changes nothing; the principal signs the new content, an empty list removes the photo.
    version = body["version"]
    assert ok(patch(staff, form, {"attachments": {"guards_total": [photo["id"]]}}))["version"] == version
    resigned = sign(principal, form, body["content_hash"])
    assert [s["valid"] for s in resigned["signatures"] if not s["voided"]] == [True]
    cleared = ok(patch(staff, form, {"attachments": {"guards_total": []}}))
    assert cleared["attachments"] == {} and cleared["content_hash"] == before["content_hash"]
    assert [s["valid"] for s in cleared["signatures"] if not s["voided"]] == []


def test_a_form_without_attachments_hashes_as_before(app: SafetyApplication, user: Client, form: str) -> None:
    """No attachment, no change to the content hash (signed forms of before stay valid)."""
    staff = user("hm_staff")
    body = ok(patch(staff, form, {"guards_total": 4}))
    row = JointFormView.objects.get(id=form)
    assert body["content_hash"] == content_hash(row.campaign, row.school, row.fields, body["counts"])
    assert app.get_joint_form(row.id).hash(body["counts"]) == body["content_hash"]
    (updated,) = [e for e in app.events.get(row.id) if type(e).__name__ == "FieldsUpdated"]
    assert vars(updated)["attachments"] == {}


def test_a_party_attaches_only_to_its_own_fields(app: SafetyApplication, user: Client, form: str) -> None:
    staff, officer = user("hm_staff"), user("hm_officer")
    photo = upload(staff, jpeg())["id"]
    before = app.recorder.max_notification_id()
    refused(patch(staff, form, {"attachments": {"hotspots_rectified": [photo]}}), 403, "field_not_yours")
    refused(patch(staff, form, {"attachments": {"no_such_field": [photo]}}), 400, "unknown_field")
    refused(patch(staff, form, {"attachments": {"guards_total": [photo, photo]}}), 400, "invalid_value")
    refused(patch(staff, form, {"attachments": {"guards_total": ["not-an-id"]}}), 400, "invalid")
    refused(patch(officer, form, {"attachments": {"hotspots_rectified": [photo]}}), 400, "invalid_attachment")
    assert app.recorder.max_notification_id() == before
    # The station's own photo on its own field is fine, and the school sees it on the form.
    own = upload(officer, jpeg(color=(200, 10, 10)))
    ok(patch(officer, form, {"hotspots_rectified": True, "attachments": {"hotspots_rectified": [own["id"]]}}))
    assert user("hm_staff").get(own["url"]).status_code == 200


def test_a_swapped_photo_on_a_joint_form_is_named_by_verify(user: Client, form: str) -> None:
    staff = user("hm_staff")
    photo = upload(staff, jpeg(color=(9, 99, 199)))
    ok(patch(staff, form, {"work_report": "已完成自查", "attachments": {"work_report": [photo["id"]]}}))
    at = ChainLink.objects.filter(originator_id=form).order_by("-position").first()
    assert at is not None
    StoredFile.objects.filter(name=blob_name(photo["sha256"])).update(content=b"\xff\xd8\xff another photo")

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_integrity", stdout=out, stderr=err)
    assert exited.value.code == 1
    assert f"blob_modified at position {at.position}" in err.getvalue() and f"联合检查表 {form}" in err.getvalue()
    report = ok(user("auditor").get(f"{API}audit/verify/"))
    (problem,) = [p for p in report["problems"] if p["kind"].startswith("blob_")]
    assert problem["kind"] == "blob_modified"
    assert problem["subject"] == {"kind": "jointform", "id": form, "number": None}
    assert problem["event"]["type"] == "fields_updated" and problem["attachment"] == photo["id"]


@pytest.mark.django_db(transaction=True)  # PostgreSQL: the rebuild's worker processes need the world committed
def test_the_forms_photos_are_rebuilt_from_the_log(user: Client, world: World) -> None:
    staff, officer = user("hm_staff"), user("hm_officer")
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form = str(post(staff, "joint-forms/", body, 201)["id"])
    photos = [upload(staff, jpeg(color=(i, 50, 50)))["id"] for i in range(2)]
    ok(patch(staff, form, {"attachments": {"guards_total": photos[:1], "cctv_cameras": photos[1:]}}))
    shown = ok(officer.get(f"{API}joint-forms/{form}/"))
    fields = ("attachment", "aggregate", "kind", "version", "event", "school", "police_only")
    projected = sorted(AttachmentUse.objects.values_list(*fields))
    assert len(projected) == 2

    call_command("rebuild_projections", stdout=io.StringIO())

    assert sorted(AttachmentUse.objects.values_list(*fields)) == projected
    again = ok(officer.get(f"{API}joint-forms/{form}/"))
    assert (again["attachments"], again["content_hash"]) == (shown["attachments"], shown["content_hash"])
    items = [i for i in history(officer, form) if i["attachments"]]  # the station's history lists them too
    assert [(a["field"], a["id"]) for a in items[0]["attachments"]] == [
        ("guards_total", photos[0]),
        ("cctv_cameras", photos[1]),
    ]
