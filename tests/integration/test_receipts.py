"""Receipts for every line (双报送回执): a submission names each line it went to, with its recipients and time; a
line's hash, size and URL only to those who may fetch its bytes. A joint form's submit/ is such a submission, and
its PDF is from then on the education copy that was sent, byte for byte.

The district's way: the bureau's campaign reports to 天宁区教育局 and 常州市公安局; its statistics cutoff is weeks
ahead; the school and its station fill the form, 校长 and 所长 sign, the school submits."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from reporthelpers import pdf_text

from api.demo import World
from domain.jointform.fields import FIELDS, TITLE

from apihelpers import API, ok, refused

User = Any
SECRET = "线索：校外人员多次打听学生放学路线（机密-RCPT-5521）"
RECEIPT_KEYS = {"sha256", "size", "url"}


def submitted_by_bureau(user: User, world: World) -> dict[str, Any]:
    body = {"report": "suzhou-hazard-list", "campaign": str(world.campaign)}
    return ok(user("tn_inspector").post(f"{API}submissions/", body, format="json"), 201)  # type: ignore[no-any-return]


def test_an_education_user_sees_that_a_police_copy_was_made_but_not_its_hash(world: World, user: User) -> None:
    sent = submitted_by_bureau(user, world)

    lines = {c["line"]: c for c in sent["copies"]}
    assert set(lines) == {"education", "police"}
    assert lines["police"]["recipients"] == [{"id": str(world.units["city_police"]), "name": "常州市公安局"}]
    assert lines["education"]["recipients"] == [{"id": str(world.units["district_bureau"]), "name": "天宁区教育局"}]
    for copy in lines.values():
        assert copy["sent_at"] == sent["submitted_at"] and copy["sent_at"].endswith("+08:00")
    assert not RECEIPT_KEYS & set(lines["police"])  # a hash of the police copy would confirm a guess of its text
    assert RECEIPT_KEYS <= set(lines["education"])
    inspector = user("tn_inspector")
    assert ok(inspector.get(f"{API}submissions/{sent['id']}/"))["copies"] == sent["copies"]
    assert ok(inspector.get(f"{API}submissions/"))["results"][0]["copies"] == sent["copies"]
    refused(inspector.get(f"{API}submissions/{sent['id']}/copies/police/"), 404, "submission_not_found")

    police = user("cz_police")  # the city police bureau, a recipient: it may fetch both lines
    lines = {c["line"]: c for c in ok(police.get(f"{API}submissions/{sent['id']}/"))["copies"]}
    assert RECEIPT_KEYS <= set(lines["police"]) and lines["education"]["sha256"] == sent["copies"][0]["sha256"]
    fetched = police.get(lines["police"]["url"])
    assert fetched.status_code == 200 and len(fetched.content) == lines["police"]["size"]
    assert hashlib.sha256(fetched.content).hexdigest() == lines["police"]["sha256"]
    assert "排查问题隐患清单" in pdf_text(fetched.content)


# --- the joint form: filled by both parties, signed by 校长 and 所长, submitted by the school --------------------


def value_for(kind: str) -> Any:
    return {"bool": True, "int": 1}.get(kind, "无")


@pytest.fixture
def signed_form(world: World, user: User) -> str:
    staff, officer = user("hm_staff"), user("hm_officer")
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form = ok(staff.post(f"{API}joint-forms/", body, format="json"), 201)["id"]
    school_fields = {f.key: value_for(f.kind) for f in FIELDS if f.party == "school"}
    police_fields = {f.key: value_for(f.kind) for f in FIELDS if f.party == "police" and not f.police_only}
    ok(staff.patch(f"{API}joint-forms/{form}/", {**school_fields, "task_force_lead": "王校长"}, format="json"))
    ok(officer.patch(f"{API}joint-forms/{form}/", {**police_fields, "sensitive_notes": SECRET}, format="json"))
    content_hash = ok(staff.get(f"{API}joint-forms/{form}/"))["content_hash"]
    for signatory in ("hm_principal", "hm_chief"):
        signing = {"content_hash": content_hash}
        ok(user(signatory).post(f"{API}joint-forms/{form}/sign/", signing, format="json"))
    return str(form)


def session(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_a_joint_form_submit_is_a_submission_whose_copies_are_fetched_byte_for_byte(
    world: World, user: User, signed_form: str
) -> None:
    staff = user("hm_staff")
    answer = ok(staff.post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))

    assert answer["status"] == "submitted" and answer["submission"]
    stored = ok(staff.get(f"{API}submissions/{answer['submission']}/"))
    assert stored["report"] == "changzhou-school-form" and stored["unit"] == str(world.units["hongmei_school"])
    assert answer["copies"] == stored["copies"]
    lines = {c["line"]: c for c in answer["copies"]}
    assert [r["name"] for r in lines["police"]["recipients"]] == ["常州市公安局"]
    assert not RECEIPT_KEYS & set(lines["police"])
    education = staff.get(f"{API}submissions/{answer['submission']}/copies/education/")
    assert education.status_code == 200
    assert hashlib.sha256(education.content).hexdigest() == lines["education"]["sha256"]
    assert education.content == staff.get(lines["education"]["url"]).content

    chief = user("hm_chief")
    police_lines = {c["line"]: c for c in ok(chief.get(f"{API}submissions/{answer['submission']}/"))["copies"]}
    police = chief.get(f"{API}submissions/{answer['submission']}/copies/police/")
    assert hashlib.sha256(police.content).hexdigest() == police_lines["police"]["sha256"]
    assert police_lines["education"]["sha256"] == lines["education"]["sha256"]


def test_a_submitted_forms_pdf_is_the_education_copy_that_was_sent(world: World, user: User, signed_form: str) -> None:
    answer = ok(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))
    sent = user("hm_staff").get(f"{API}submissions/{answer['submission']}/copies/education/").content

    for username in ("hm_staff", "hm_chief", "tn_inspector"):
        page_pdf = session(username).get(f"/forms/joint/{signed_form}/pdf/")
        assert page_pdf.status_code == 200 and page_pdf.content == sent, username
    report = user("tn_inspector").get(f"{API}reports/changzhou-school-form/", {"form": signed_form, "format": "pdf"})
    assert report.status_code == 200 and report.content == sent


def test_the_copies_read_as_the_seed_form_and_only_the_police_copy_carries_the_sensitive_notes(
    user: User, signed_form: str
) -> None:
    answer = ok(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))
    base = f"{API}submissions/{answer['submission']}/copies"

    education = pdf_text(user("hm_staff").get(f"{base}/education/").content)
    police = pdf_text(user("hm_chief").get(f"{base}/police/").content)

    for text in (education, police):
        flat = text.replace(" ", "")
        assert TITLE in flat and "红梅实验小学" in flat and "红梅派出所" in flat and "王校长" in flat
        assert "校长" in flat and "所长" in flat
    assert "RCPT-5521" not in education
    assert "RCPT-5521" in police


def test_an_already_submitted_form_is_not_sent_again_with_other_bytes(
    app: Any, world: World, user: User, signed_form: str
) -> None:
    answer = ok(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))
    before = app.recorder.max_notification_id()

    body = {"report": "changzhou-school-form", "form": signed_form}
    again = refused(user("hm_principal").post(f"{API}submissions/", body, format="json"), 409, "form_already_submitted")

    assert again["submission"] == answer["submission"] and answer["submission"] in again["detail"]
    assert app.recorder.max_notification_id() == before
    refused(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"), 409, "form_locked")


def test_another_school_cannot_see_the_forms_submission(app: Any, world: World, user: User, signed_form: str) -> None:
    other = user("ql_principal")
    before = app.recorder.max_notification_id()
    refused(other.post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"), 404, "joint_form_not_found")
    assert app.recorder.max_notification_id() == before

    answer = ok(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))

    refused(other.get(f"{API}submissions/{answer['submission']}/"), 404, "submission_not_found")
    refused(other.get(f"{API}submissions/{answer['submission']}/copies/education/"), 404, "submission_not_found")
    assert answer["submission"] not in {s["id"] for s in ok(other.get(f"{API}submissions/"))["results"]}


def test_the_forms_station_submits_it_in_the_schools_name(world: World, user: User, signed_form: str) -> None:
    answer = ok(user("hm_officer").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))

    school_view = ok(user("hm_principal").get(f"{API}submissions/{answer['submission']}/"))
    assert school_view["unit"] == str(world.units["hongmei_school"]) and school_view["submitted_by"] == "hm_officer"
    call_command("rebuild_projections")  # the form names its submission from the log alone
    assert ok(user("hm_principal").get(f"{API}joint-forms/{signed_form}/"))["submission"] == answer["submission"]
    assert ok(user("hm_principal").get(f"{API}submissions/{answer['submission']}/")) == school_view


def test_the_page_submits_the_form_as_a_submission_and_then_downloads_what_was_sent(
    user: User, signed_form: str
) -> None:
    page = session("hm_principal")

    response = page.post(f"/forms/joint/{signed_form}/", {"action": "submit"})

    assert response.status_code == 302
    form = ok(user("hm_principal").get(f"{API}joint-forms/{signed_form}/"))
    assert form["status"] == "submitted" and form["submission"]
    sent = user("hm_principal").get(f"{API}submissions/{form['submission']}/copies/education/").content
    assert page.get(f"/forms/joint/{signed_form}/pdf/").content == sent


def test_the_page_shows_each_lines_receipt_and_the_police_copys_hash_only_to_the_police(
    user: User, signed_form: str
) -> None:
    answer = ok(user("hm_staff").post(f"{API}joint-forms/{signed_form}/submit/", {}, format="json"))
    police_hash = {
        c["line"]: c for c in ok(user("hm_chief").get(f"{API}submissions/{answer['submission']}/"))["copies"]
    }["police"]["sha256"]

    school_page = session("hm_principal").get(f"/forms/joint/{signed_form}/").content.decode()
    station_page = session("hm_chief").get(f"/forms/joint/{signed_form}/").content.decode()

    for html in (school_page, station_page):
        assert "报送回执" in html and "常州市公安局" in html and "天宁区教育局" in html
    assert "仅公安机关可下载" in school_page and police_hash not in school_page
    assert police_hash in station_page and f"submissions/{answer['submission']}/copies/police/" in station_page
