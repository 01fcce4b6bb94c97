"""Submissions (报送): each line's exact bytes kept with their SHA-256, re-fetched byte for byte; logged."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.management import call_command
from reporthelpers import pdf_text

from domain.application import SafetyApplication
from projections.campaigns import CampaignView

from apihelpers import API, ok, refused

Client = Any


@pytest.fixture
def campaign(app: SafetyApplication) -> str:
    call_command("load_demo")
    return str(CampaignView.objects.get().id)


def submit(client: Any, campaign: str, report: str = "suzhou-hazard-list", status: int = 201) -> Any:
    return ok(client.post(f"{API}submissions/", {"report": report, "campaign": campaign}, format="json"), status)


def test_a_submission_stores_each_lines_copy_and_returns_it_byte_for_byte(
    app: SafetyApplication, campaign: str, client_for: Client
) -> None:
    bureau = client_for("tn_inspector")
    before = app.recorder.max_notification_id()

    submission = submit(bureau, campaign)

    assert app.recorder.max_notification_id() == before + 1  # type: ignore[operator]
    event = app.mapper.to_domain_event(app.recorder.select_notifications(start=before + 1, limit=1)[0])  # type: ignore[operator]
    assert type(event).__name__ == "Submitted" and event.report == "suzhou-hazard-list"  # type: ignore[attr-defined]
    copy = next(c for c in submission["copies"] if c["line"] == "education")  # the police line: no bytes for it
    first = bureau.get(copy["url"])
    again = bureau.get(copy["url"])
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert hashlib.sha256(first.content).hexdigest() == copy["sha256"] == first["X-Content-SHA256"]
    assert {c["sha256"] for c in event.copies} >= {copy["sha256"]}  # type: ignore[attr-defined]
    assert "排查问题隐患清单" in pdf_text(first.content)
    listed = ok(bureau.get(f"{API}submissions/"))["results"]
    assert [s["id"] for s in listed] == [submission["id"]]


def test_the_police_line_copy_carries_police_only_content_and_only_police_may_fetch_it(
    campaign: str, client_for: Client
) -> None:
    officer = client_for("hm_officer")
    form = ok(
        officer.post(f"{API}joint-forms/", {"campaign": campaign, "school": _school(officer)}, format="json"), 201
    )["id"]
    marker = "敏感线索-4471：校外人员多次打听学生放学路线"
    ok(
        officer.patch(
            f"{API}joint-forms/{form}/", {"sensitive_notes": marker, "surrounding_order_hotspots": "无"}, format="json"
        )
    )
    principal = client_for("hm_principal")
    sent = ok(
        principal.post(
            f"{API}submissions/", {"report": "changzhou-school-form", "campaign": campaign, "form": form}, format="json"
        ),
        201,
    )
    assert [(c["line"], "url" in c) for c in sent["copies"]] == [("education", True), ("police", False)]
    education = principal.get(sent["copies"][0]["url"]).content
    assert marker not in pdf_text(education)
    refused(principal.get(f"{API}submissions/{sent['id']}/copies/police/"), 404, "submission_not_found")

    chief_view = ok(client_for("hm_chief").get(f"{API}submissions/{sent['id']}/"))
    lines = {c["line"]: c for c in chief_view["copies"]}
    assert set(lines) == {"education", "police"}
    police = client_for("hm_chief").get(lines["police"]["url"]).content
    assert hashlib.sha256(police).hexdigest() == lines["police"]["sha256"]
    assert marker in pdf_text(police).replace(" ", "").replace("\n", "") or marker in pdf_text(police)


def test_submitting_is_for_the_unit_itself_and_never_for_auditors(campaign: str, client_for: Client) -> None:
    refused(
        client_for("auditor").post(
            f"{API}submissions/", {"report": "suzhou-summary", "campaign": campaign}, format="json"
        ),
        403,
        "read_only_role",
    )
    other_unit = str(CampaignView.objects.get().recipients[1])  # the city police bureau
    refused(
        client_for("tn_inspector").post(
            f"{API}submissions/", {"report": "suzhou-summary", "campaign": campaign, "unit": other_unit}, format="json"
        ),
        403,
        "out_of_scope",
    )
    refused(
        client_for("tn_inspector").post(f"{API}submissions/", {"report": "nope", "campaign": campaign}, format="json"),
        404,
        "report_not_found",
    )
    refused(client_for("tn_inspector").get(f"{API}submissions/not-a-uuid/"), 404, "submission_not_found")


def _school(client: Any) -> str:
    schools = ok(client.get(f"{API}units/", {"kind": "school"}))["results"]
    return next(s["id"] for s in schools if s["name"] == "红梅实验小学")
