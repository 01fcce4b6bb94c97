"""The attacks of issue 13 replayed: a school reads no other school's data through a report's 填报单位, a
submission it merely appears in, or a refusal that answers "already exists" before "not yours"."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from reporthelpers import pdf_text

from domain.application import SafetyApplication
from projections.campaigns import CampaignView
from projections.directory import UnitView

from apihelpers import API, ok, refused

Client = Any
# Hazards of 红梅实验小学 in the demo district that are still open a week before the report deadline.
HONGMEI_OPEN = (
    "学校假期值班表未张贴，带班领导未明确", "校门口缺少硬质防冲撞设施（升降柱）", "围墙周界无防入侵报警系统",
)
CAMPAIGN_REPORTS = ("suzhou-hazard-list", "suzhou-summary", "changzhou-district-summary", "accountability")


@pytest.fixture
def campaign(app: SafetyApplication) -> str:
    call_command("load_demo")
    return str(CampaignView.objects.get().id)


def unit(name: str) -> str:
    return str(UnitView.objects.get(name=name).id)


def get(client: Client, path: str, **params: str) -> Any:
    return client.get(f"{API}{path}", params)


@pytest.mark.parametrize("above", ["天宁区教育局", "常州市公安局"])
@pytest.mark.parametrize("name", CAMPAIGN_REPORTS)
@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_a_school_cannot_take_a_report_in_the_name_of_a_unit_above_it(
    campaign: str, client_for: Client, above: str, name: str, fmt: str
) -> None:
    response = get(client_for("ql_principal"), f"reports/{name}/", campaign=campaign, unit=unit(above), format=fmt)

    body = refused(response, 403, "out_of_scope")
    assert not any(description in str(body) for description in HONGMEI_OPEN)


def test_the_hazard_list_a_school_may_take_holds_only_its_own_hazards(campaign: str, client_for: Client) -> None:
    own = ok(get(client_for("ql_principal"), "reports/suzhou-hazard-list/", campaign=campaign))
    text = str(own)
    assert "学生宿舍一键报警装置故障" in text
    assert not any(description in text for description in HONGMEI_OPEN)
    bureau = str(ok(get(client_for("tn_inspector"), "reports/suzhou-hazard-list/", campaign=campaign)))
    assert all(description in bureau for description in HONGMEI_OPEN)  # the same request leaks when it is allowed


def test_the_district_summary_of_a_school_counts_only_that_school(campaign: str, client_for: Client) -> None:
    refused(get(client_for("ql_principal"), "reports/suzhou-summary/", campaign=campaign, unit=unit("天宁区教育局")),
            403, "out_of_scope")
    summary = ok(get(client_for("ql_principal"), "reports/suzhou-summary/", campaign=campaign))
    assert summary["tables"][0]["total"] == ["合计", 0, 0, 0, 0, 0]  # the bureau's on-site check was at 红梅
    rows = ok(get(client_for("ql_principal"), "reports/changzhou-district-summary/", campaign=campaign,
                  district="天宁区"))["tables"][0]["rows"]
    assert [row[2] for row in rows] == ["青龙中学"]


def test_a_unit_beside_the_caller_is_refused_and_one_it_cannot_see_is_not_found(
    campaign: str, client_for: Client
) -> None:
    principal = client_for("ql_principal")
    refused(get(principal, "reports/suzhou-hazard-list/", campaign=campaign, unit=unit("青龙派出所")),
            403, "out_of_scope")  # its own 属地派出所: seen, but not a unit it answers for
    refused(get(principal, "reports/suzhou-hazard-list/", campaign=campaign, unit=unit("红梅派出所")),
            404, "unit_not_found")
    refused(get(principal, "reports/suzhou-hazard-list/", campaign=campaign, unit=unit("红梅实验小学")),
            404, "unit_not_found")
    refused(get(client_for("hm_officer"), "reports/accountability/", unit=unit("天宁区教育局")), 403, "out_of_scope")
    refused(get(client_for("tn_inspector"), "reports/accountability/", unit=unit("常州市公安局")), 403, "out_of_scope")
    ok(get(client_for("tn_inspector"), "reports/suzhou-hazard-list/", campaign=campaign, unit=unit("红梅实验小学")))
    ok(get(client_for("cz_police"), "reports/suzhou-hazard-list/", campaign=campaign, unit=unit("天宁区教育局")))


def test_a_named_object_counts_only_within_the_reports_unit(campaign: str, client_for: Client) -> None:
    """hazard / form / school are looked for among the schools under the 填报单位, never beside it."""
    hongmei = str(next(h["id"] for h in ok(get(client_for("tn_inspector"), "hazards/", limit="100"))["results"]
                       if h["school"] == unit("红梅实验小学")))
    station = client_for("hm_officer")
    ok(get(station, "reports/hazard-dossier/", hazard=hongmei))
    refused(get(station, "reports/hazard-dossier/", hazard=hongmei, unit=unit("兰陵幼儿园")), 404, "hazard_not_found")
    refused(get(station, "reports/school-ledger/", school=unit("红梅实验小学"), unit=unit("兰陵幼儿园")),
            400, "invalid_value", "school")
    refused(get(client_for("hm_principal"), "reports/hazard-dossier/", hazard=hongmei, unit=unit("天宁区教育局")),
            403, "out_of_scope")


def test_a_submission_of_the_bureau_is_not_seen_by_the_schools_and_stations_it_mentions(
    campaign: str, client_for: Client
) -> None:
    sent = ok(client_for("tn_inspector").post(
        f"{API}submissions/", {"report": "changzhou-district-summary", "campaign": campaign}, format="json"), 201)
    education = f"{API}submissions/{sent['id']}/copies/education/"
    assert "红梅实验小学" in pdf_text(client_for("tn_inspector").get(education).content)

    for mentioned in ("ql_principal", "hm_principal", "hm_staff", "lh_principal", "hm_chief", "ql_chief"):
        client = client_for(mentioned)
        assert ok(get(client, "submissions/"))["results"] == [], mentioned
        refused(get(client, f"submissions/{sent['id']}/"), 404, "submission_not_found")
        refused(client.get(education), 404, "submission_not_found")
        refused(client.get(f"{API}submissions/{sent['id']}/copies/police/"), 404, "submission_not_found")

    for reader in ("tn_inspector", "tn_leader", "cz_police", "auditor"):  # its unit, a recipient, the auditor
        client = client_for(reader)
        assert [s["id"] for s in ok(get(client, "submissions/"))["results"]] == [sent["id"]], reader
        assert client.get(education).status_code == 200
    assert client_for("cz_police").get(f"{API}submissions/{sent['id']}/copies/police/").status_code == 200
    refused(client_for("tn_leader").get(f"{API}submissions/{sent['id']}/copies/police/"), 404, "submission_not_found")


def test_a_schools_submission_is_seen_by_the_units_above_it_and_no_other_school(
    campaign: str, client_for: Client
) -> None:
    sent = ok(client_for("hm_principal").post(
        f"{API}submissions/", {"report": "school-ledger", "campaign": campaign, "school": unit("红梅实验小学")},
        format="json"), 201)
    for reader in ("hm_principal", "hm_staff", "hm_officer", "tn_leader", "cz_police", "auditor"):
        ok(get(client_for(reader), f"submissions/{sent['id']}/"))
    for other in ("lh_principal", "ql_principal", "ql_chief"):
        refused(get(client_for(other), f"submissions/{sent['id']}/"), 404, "submission_not_found")


@pytest.mark.parametrize("above", ["天宁区教育局", "青龙派出所"])
def test_a_school_cannot_submit_in_the_name_of_a_unit_it_sees_above_it(
    campaign: str, client_for: Client, above: str
) -> None:
    body = {"report": "suzhou-hazard-list", "campaign": campaign, "unit": unit(above)}
    refused(client_for("ql_principal").post(f"{API}submissions/", body, format="json"), 403, "out_of_scope")


# --- authorization is judged before conflicts --------------------------------------------------------------


def test_an_auditor_opening_an_existing_form_is_refused_as_read_only_not_told_it_exists(
    app: SafetyApplication, campaign: str, client_for: Client
) -> None:
    body = {"campaign": campaign, "school": unit("红梅实验小学")}
    ok(client_for("hm_principal").post(f"{API}joint-forms/", body, format="json"), 201)
    before = app.recorder.max_notification_id()

    refused(client_for("auditor").post(f"{API}joint-forms/", body, format="json"), 403, "read_only_role")
    refused(client_for("tn_inspector").post(f"{API}joint-forms/", body, format="json"), 403, "not_a_party")
    refused(client_for("hm_officer").post(f"{API}joint-forms/", body, format="json"), 409, "already_exists")
    assert app.recorder.max_notification_id() == before


def test_a_non_admin_creating_an_existing_user_is_refused_not_told_the_name_is_taken(
    campaign: str, client_for: Client
) -> None:
    body = {"username": "hm_staff", "password": "long-enough-1", "display_name": "某人",
            "unit": unit("红梅实验小学"), "role": "school_staff"}
    refused(client_for("auditor").post(f"{API}users/", body, format="json"), 403, "read_only_role")
    refused(client_for("tn_leader").post(f"{API}users/", body, format="json"), 403, "role_not_permitted")


def test_a_stale_expected_version_from_someone_who_may_not_act_is_refused_as_not_permitted(
    campaign: str, client_for: Client
) -> None:
    hazard = next(h for h in ok(get(client_for("auditor"), "hazards/", limit="100"))["results"]
                  if h["status"] == "assigned" and h["school"] == unit("红梅实验小学"))
    stale = {"percent": 10, "expected_version": 1}
    path = f"{API}hazards/{hazard['id']}/progress/"
    refused(client_for("auditor").post(path, stale, format="json"), 403, "read_only_role")
    refused(client_for("tn_inspector").post(path, stale, format="json"), 403, "not_current_owner")
    refused(client_for("hm_principal").post(path, stale, format="json"), 409, "version_conflict")
