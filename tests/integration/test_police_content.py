"""Police-only content (DESIGN §6): in the log only as ciphertext of one size, in a stream of its own; opened by the
read models, a rebuild and the police; every read of it recorded in an append-only log that police leaders and
auditors list."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client as PageClient
from rest_framework.test import APIClient

from api.demo import World
from api.models import PoliceContentRead
from domain.application import SafetyApplication
from domain.jointform.fields import MAX_TEXT
from domain.jointform.police import notes_id
from projections.campaigns import CampaignView
from projections.policekey import AesGcmCipher, PoliceKeyError
from projections.runner import catch_up

from apihelpers import API, ok, post, refused

SECRET = "线索：某人员近期多次在校门口徘徊（绝密-SEAL-5521）"
Client = Callable[[str], APIClient]


def open_form(world: World, user: Client) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    return str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])


def patch(client: APIClient, form: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(client.patch(f"{API}joint-forms/{form}/", body, format="json"))  # type: ignore[no-any-return]


def stored_states(app: SafetyApplication) -> list[bytes]:
    return [bytes(n.state) for n in app.recorder.select_notifications(start=0, limit=100_000)]


def sealed_notes(app: SafetyApplication, form: str) -> list[dict[str, str]]:
    return [
        json.loads(bytes(e.state))["changes"]["sensitive_notes"]
        for e in app.recorder.select_events(notes_id(UUID(form)))
        if e.topic.endswith("PoliceNotes.Recorded")
    ]


# --- in the log: ciphertext only, all of one size; the form's version and the school's history unmoved ---------


def test_the_log_holds_police_only_notes_only_as_ciphertext_of_one_size(
    app: SafetyApplication, world: World, user: Client
) -> None:
    form = open_form(world, user)
    officer = user("hm_officer")
    long_note = "涉" * MAX_TEXT
    for note in ("短", SECRET, long_note, SECRET):
        patch(officer, form, {"sensitive_notes": note})
        patch(officer, form, {"sensitive_notes": None})

    states = b"".join(stored_states(app))
    for text in (SECRET, long_note):
        assert text.encode() not in states and json.dumps(text).encode() not in states
    sealed = sealed_notes(app, form)
    assert len(sealed) == 8 and {s["enc"] for s in sealed} == {"aes-gcm"}
    assert len({len(s["ct"]) for s in sealed}) == 1  # a null, one character or 2,000: the same length
    assert len({s["nonce"] for s in sealed}) == len({s["ct"] for s in sealed}) == 8  # the same text twice differs


def test_a_police_only_edit_moves_neither_the_forms_version_nor_the_school_history(
    world: World, user: Client
) -> None:
    form = open_form(world, user)
    school, officer = user("hm_staff"), user("hm_officer")
    patch(school, form, {"guards_total": 2})
    before = ok(school.get(f"{API}joint-forms/{form}/history/"))

    after_note = patch(officer, form, {"sensitive_notes": SECRET})

    assert after_note["version"] == 2 and after_note["fields"]["sensitive_notes"] == SECRET
    assert ok(school.get(f"{API}joint-forms/{form}/history/")) == before
    assert patch(school, form, {"guards_total": 3, "expected_version": 2})["version"] == 3
    police = ok(officer.get(f"{API}joint-forms/{form}/history/"))
    (note,) = [item for item in police if item.get("stream") == "police_notes"]
    assert note["data"]["changes"] == {"sensitive_notes": SECRET} and note["actor"] == "hm_officer"
    assert [item["type"] for item in police] == ["opened", "fields_updated", "recorded", "fields_updated"]


def test_the_notes_are_bound_to_their_form_and_key(app: SafetyApplication, world: World, user: Client) -> None:
    form, other = open_form(world, user), str(world.campaign)
    patch(user("hm_officer"), form, {"sensitive_notes": SECRET})
    (sealed,) = sealed_notes(app, form)
    police = app.police_cipher
    assert police is not None
    place = f"school-safety/police-notes/{form}/sensitive_notes".encode()
    assert SECRET.encode() in police.open(sealed, place)
    for cipher, where in ((AesGcmCipher(bytes(32)), place), (police, place.replace(form.encode(), other.encode()))):
        with pytest.raises(PoliceKeyError):
            cipher.open(sealed, where)
    with pytest.raises(PoliceKeyError):
        police.open({**sealed, "ct": sealed["ct"][:-4] + "AAAA"}, place)


# --- read models, a rebuild and old events -----------------------------------------------------------------


def rebuild() -> None:
    call_command("rebuild_projections", stdout=io.StringIO(), stderr=io.StringIO())


def write_a_note_the_old_way(app: SafetyApplication, form: str, note: str) -> None:
    """What the code before sealing recorded: the note in plaintext in the form's own FieldsUpdated event."""
    joint = app.get_joint_form(UUID(form))
    joint._fields_updated(  # type: ignore[call-arg]
        party="police",
        changes={"sensitive_notes": note},
        actor="hm_officer",
        occurred_at=datetime.now(UTC),
        attachments={},  # required by the event since attachments exist; the note is what matters here
    )
    app.save(joint)
    catch_up(app)


def test_notes_recorded_before_sealing_still_load_project_and_reach_only_the_police(
    app: SafetyApplication, world: World, user: Client
) -> None:
    form = open_form(world, user)
    write_a_note_the_old_way(app, form, "旧线索（升级前）")
    officer, school = user("hm_officer"), user("hm_staff")

    assert ok(officer.get(f"{API}joint-forms/{form}/"))["fields"]["sensitive_notes"] == "旧线索（升级前）"
    assert "旧线索" not in school.get(f"{API}joint-forms/{form}/history/").content.decode()
    patch(officer, form, {"sensitive_notes": SECRET})  # the new note supersedes it, sealed
    patch(school, form, {"guards_total": 1})
    rebuild()
    assert ok(officer.get(f"{API}joint-forms/{form}/"))["fields"]["sensitive_notes"] == SECRET
    assert app.get_joint_form(UUID(form)).version == 3
    history = ok(officer.get(f"{API}joint-forms/{form}/history/"))
    assert [item["data"].get("changes", {}).get("sensitive_notes") for item in history] == [
        None, "旧线索（升级前）", SECRET, None
    ]
    assert SECRET not in school.get(f"{API}joint-forms/{form}/").content.decode()


# --- who read it -------------------------------------------------------------------------------------------


def reads() -> list[tuple[str, str, str | None]]:
    return [(r.username, r.via, str(r.form) if r.form else None) for r in PoliceContentRead.objects.order_by("id")]


def test_every_read_of_police_only_content_is_recorded_with_who_how_and_which_form(
    world: World, user: Client
) -> None:
    form = open_form(world, user)
    officer, chief = user("hm_officer"), user("hm_chief")
    ok(officer.get(f"{API}joint-forms/{form}/"))  # no notes yet: nothing police-only was read
    ok(user("hm_staff").get(f"{API}joint-forms/{form}/"))
    assert reads() == []

    patch(officer, form, {"sensitive_notes": SECRET})
    ok(chief.get(f"{API}joint-forms/{form}/"))
    ok(user("cz_police").get(f"{API}joint-forms/"))
    ok(chief.get(f"{API}joint-forms/{form}/history/"))
    page = PageClient()
    page.force_login(get_user_model().objects.get(username="hm_chief"))
    assert SECRET in page.get(f"/forms/joint/{form}/").content.decode()
    for username in ("hm_staff", "tn_leader", "auditor"):  # the education side reads no police-only content
        ok(user(username).get(f"{API}joint-forms/{form}/"))
        ok(user(username).get(f"{API}joint-forms/{form}/history/"))

    assert reads() == [
        ("hm_officer", "api", form),  # the PATCH answer shows the note to its writer
        ("hm_chief", "api", form),
        ("cz_police", "api", form),
        ("hm_chief", "history", form),
        ("hm_chief", "page", form),
    ]
    row = PoliceContentRead.objects.filter(via="page").get()
    assert (row.role, row.unit, row.school) == ("station_chief", world.units["hongmei_station"],
                                                 world.units["hongmei_school"])


def test_fetching_a_police_line_copy_is_recorded(app: SafetyApplication, client_for: Any) -> None:
    call_command("load_demo")
    campaign = str(CampaignView.objects.get().id)
    officer = client_for("hm_officer")
    school = ok(officer.get(f"{API}units/", {"kind": "school", "limit": 100}))["results"]
    hongmei = next(u["id"] for u in school if u["name"] == "红梅实验小学")
    form = ok(officer.post(f"{API}joint-forms/", {"campaign": campaign, "school": hongmei}, format="json"), 201)["id"]
    patch(officer, form, {"sensitive_notes": SECRET})
    body = {"report": "changzhou-school-form", "campaign": campaign, "form": form}
    sent = ok(client_for("hm_principal").post(f"{API}submissions/", body, format="json"), 201)
    earlier = PoliceContentRead.objects.order_by("id").last()

    client_for("cz_police").get(f"{API}submissions/{sent['id']}/copies/education/")
    assert PoliceContentRead.objects.order_by("id").last() == earlier
    assert client_for("cz_police").get(f"{API}submissions/{sent['id']}/copies/police/").status_code == 200

    (row,) = PoliceContentRead.objects.filter(id__gt=earlier.id if earlier else 0)
    assert (row.username, row.via, str(row.submission), str(row.school)) == (
        "cz_police", "submission_copy", sent["id"], hongmei
    )


def test_police_leaders_and_auditors_list_the_reads_with_names_others_are_refused(
    world: World, user: Client
) -> None:
    form = open_form(world, user)
    patch(user("hm_officer"), form, {"sensitive_notes": SECRET})
    ok(user("cz_police").get(f"{API}joint-forms/{form}/history/"))

    for username in ("hm_chief", "cz_police", "auditor"):
        listed = ok(user(username).get(f"{API}audit/police-access/"))
        assert [(r["username"], r["display_name"] != "", r["via"]) for r in listed["results"]] == [
            ("cz_police", True, "history"), ("hm_officer", True, "api")
        ], username
        assert listed["results"][0]["school_name"] == "红梅实验小学"
        assert SECRET not in json.dumps(listed, ensure_ascii=False)
    assert ok(user("ql_chief").get(f"{API}audit/police-access/"))["results"] == []  # another station's schools
    for username in ("hm_staff", "hm_principal", "tn_inspector", "tn_leader", "hm_officer", "admin"):
        refused(user(username).get(f"{API}audit/police-access/"), 403, "role_not_permitted")


@pytest.mark.postgres
def test_in_postgresql_the_access_log_cannot_be_changed(world: World, user: Client) -> None:
    assert connection.vendor == "postgresql", "this test needs the PostgreSQL run (scripts/test.sh)"
    form = open_form(world, user)
    patch(user("hm_officer"), form, {"sensitive_notes": SECRET})
    for statement in ("UPDATE api_policecontentread SET username = 'nobody'", "DELETE FROM api_policecontentread"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert [r[0] for r in reads()] == ["hm_officer"]


def test_in_kafka_mode_a_police_only_edit_answers_with_its_notes_projected_in_its_own_transaction(
    app: SafetyApplication, world: World, user: Client, settings: Any
) -> None:
    """No consumer runs (the broker's address leads nowhere): the read models are the command's own work now."""
    form = open_form(world, user)
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"

    response = user("hm_officer").patch(f"{API}joint-forms/{form}/", {"sensitive_notes": SECRET}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["fields"]["sensitive_notes"] == SECRET
