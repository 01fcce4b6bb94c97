"""Two times, never confused: ``at`` (the moment described) and ``known_at`` (what the system knew), the way a
district works — July's hazards entered in the first week of August, reports made between the cutoff and the
deadline, deadlines still ahead."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from api import demo as demo_data
from api.demo import World
from domain.application import SafetyApplication
from domain.campaign.templates import get_template
from domain.hazard.aggregate import Severity
from domain.submission.aggregate import Submission
from domain.timerules import BUSINESS_TZ, business_date, deadline_end
from projections.campaigns import CampaignView
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up
from projections.submissions import SubmissionView
from reports.base import chinese_date

from apihelpers import API, ok, post, refused

Client = Any


def report(client: APIClient, name: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}reports/{name}/", {"format": "json", **{k: str(v) for k, v in params.items()}})
    assert response.status_code == 200, response.content.decode(errors="replace")[:500]
    return json.loads(response.content)  # type: ignore[no-any-return]


def row_of(data: dict[str, Any], school: str) -> list[Any]:
    return next(r for r in data["tables"][0]["rows"] if school in r)


@pytest.fixture
def cutoff_passed(app: SafetyApplication, world: World) -> dict[str, Any]:
    """A campaign whose statistics cutoff was 5 days ago and whose report deadline is 2 days ahead (截至…，报送…前):
    红梅实验小学 found a hazard 10 days before the cutoff and entered it only today."""
    today = business_date(timezone.now())
    template = get_template("changzhou")
    launched = timezone.now() - timedelta(days=25)
    campaign = app.launch_campaign(
        actor=world.actor("tn_leader"),
        title="暑期学校及周边安全排查整改",
        document_no="常教安〔2026〕7号",
        template=template.key,
        checklist=[{"code": i.code, "title": i.title, "category": i.category} for i in template.items],
        phases=[{"kind": "self_check", "start": business_date(launched), "end": today - timedelta(days=5)}],
        statistics_cutoff=today - timedelta(days=5),
        report_deadline=today + timedelta(days=2),
        scope=[],
        recipients=[world.units["district_bureau"]],
        occurred_at=launched,
    ).id
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=campaign,
        school=world.units["hongmei_school"],
        description="实验室危化品柜未双人双锁",
        severity=Severity.GENERAL,
        location="实验楼",
        occurred_at=timezone.now() - timedelta(days=15),  # before the cutoff; recorded now, after it
    )
    catch_up(app)
    recorded_at = app.hazard_events(hazard.id)[0].timestamp
    return {"campaign": campaign, "hazard": hazard.id, "recorded_at": recorded_at, "cutoff": today - timedelta(5)}


def test_a_hazard_entered_after_the_cutoff_about_the_period_before_it_is_in_the_reports(
    world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    campaign, inspector = cutoff_passed["campaign"], user("tn_inspector")

    summary = report(inspector, "changzhou-district-summary", campaign=campaign)
    ledger = report(inspector, "school-ledger", school=world.units["hongmei_school"], campaign=campaign)

    assert row_of(summary, "红梅实验小学")[5] == 1  # 校园隐患总数
    assert [r for r in ledger["tables"][0]["rows"] if "实验室危化品柜未双人双锁" in r]
    # about the cutoff's 24:00, as known now; both shown in +08:00
    assert datetime.fromisoformat(summary["at"]) == deadline_end(cutoff_passed["cutoff"])
    assert summary["at"].endswith("+08:00") and summary["known_at"].endswith("+08:00")
    assert f"有关统计数据截至{chinese_date(cutoff_passed['cutoff'])}" in summary["subtitle"]
    assert {"label": "填报日期", "value": chinese_date(business_date(timezone.now()))} in summary["header"]


def test_what_was_known_before_the_late_entry_leaves_it_out(
    world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    campaign, inspector = cutoff_passed["campaign"], user("tn_inspector")
    before = cutoff_passed["recorded_at"] - timedelta(microseconds=1)

    summary = report(inspector, "changzhou-district-summary", campaign=campaign, known_at=before.isoformat())

    assert row_of(summary, "红梅实验小学")[5] == 0
    assert datetime.fromisoformat(summary["known_at"]) == before
    assert {"label": "填报日期", "value": chinese_date(business_date(before))} in summary["header"]


def test_the_joint_form_counts_the_late_entry_in_its_get_and_its_report(
    world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    campaign, school = str(cutoff_passed["campaign"]), str(world.units["hongmei_school"])
    form = post(user("hm_staff"), "joint-forms/", {"campaign": campaign, "school": school}, 201)["id"]

    counts = ok(user("hm_staff").get(f"{API}joint-forms/{form}/"))["counts"]
    printed = report(user("tn_inspector"), "changzhou-school-form", form=form)
    cells = dict(tuple(row) for row in printed["tables"][0]["rows"])

    assert counts == {"hazards_total": 1, "hazards_rectified": 0, "hazards_open": 1}
    assert cells["排查出的总隐患数"] == 1


def test_a_submission_stores_both_times_beside_its_bytes(
    world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    bureau = user("tn_inspector")
    before = (cutoff_passed["recorded_at"] - timedelta(microseconds=1)).isoformat()

    by_default = post(
        bureau, "submissions/", {"report": "suzhou-summary", "campaign": str(cutoff_passed["campaign"])}, 201
    )
    as_asked = post(
        bureau,
        "submissions/",
        {"report": "suzhou-summary", "campaign": str(cutoff_passed["campaign"]), "as_of": before, "known_at": before},
        201,
    )

    assert datetime.fromisoformat(by_default["at"]) == deadline_end(cutoff_passed["cutoff"])
    assert timezone.now() - datetime.fromisoformat(by_default["known_at"]) < timedelta(minutes=1)
    assert datetime.fromisoformat(as_asked["at"]) == datetime.fromisoformat(as_asked["known_at"])
    assert datetime.fromisoformat(as_asked["at"]) == datetime.fromisoformat(before)
    assert ok(bureau.get(f"{API}submissions/{as_asked['id']}/"))["known_at"] == as_asked["known_at"]


@pytest.mark.parametrize("name", ["at", "known_at", "as_of"])
def test_a_moment_more_than_five_minutes_ahead_is_refused(
    world: World, user: Client, cutoff_passed: dict[str, Any], name: str
) -> None:
    ahead = (timezone.now() + timedelta(minutes=6)).isoformat()
    nearly = (timezone.now() + timedelta(minutes=4)).astimezone(BUSINESS_TZ).isoformat()
    inspector, campaign = user("tn_inspector"), str(cutoff_passed["campaign"])
    hazard = str(cutoff_passed["hazard"])
    field = "known_at" if name == "as_of" else name  # on hazards and findings, as_of is the old name of known_at

    for path, params in (
        ("reports/changzhou-district-summary/", {"campaign": campaign}),
        ("accountability/", {}),
        (f"hazards/{hazard}/accountability/", {}),
        (f"hazards/{hazard}/", {}),
    ):
        asked = field if path.startswith(("hazards/", "accountability/")) else ("at" if name == "as_of" else name)
        refused(inspector.get(API + path, {**params, name: ahead}), 400, "moment_in_future", asked)
        ok(inspector.get(API + path, {**params, name: nearly}))
    refused(
        inspector.post(f"{API}submissions/", {"report": "suzhou-summary", "campaign": campaign, name: ahead}),
        400,
        "moment_in_future",
    )


def test_as_of_beside_the_name_it_stands_for_is_refused(
    world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    inspector, now = user("tn_inspector"), timezone.now().isoformat()
    campaign, hazard = str(cutoff_passed["campaign"]), str(cutoff_passed["hazard"])

    summary = "reports/changzhou-district-summary/"
    refused(
        inspector.get(API + summary, {"campaign": campaign, "as_of": now, "at": now}), 400, "invalid_value", "as_of"
    )
    refused(inspector.get(f"{API}accountability/", {"as_of": now, "known_at": now}), 400, "invalid_value", "as_of")
    ok(inspector.get(f"{API}accountability/", {"as_of": now, "at": now}))  # here as_of is known_at: both may be given
    ok(inspector.get(f"{API}hazards/{hazard}/", {"as_of": now, "at": now}))


def test_the_hazard_view_at_a_business_moment_shows_the_state_then(
    app: SafetyApplication, world: World, user: Client, cutoff_passed: dict[str, Any]
) -> None:
    hazard: UUID = cutoff_passed["hazard"]
    school = world.units["hongmei_school"]
    app.assign_hazard(
        hazard,
        actor=world.actor("hm_principal"),
        owner="hm_staff",
        owner_unit=school,
        deadline=business_date(timezone.now()) + timedelta(days=10),
        occurred_at=timezone.now() - timedelta(days=2),
    )
    catch_up(app)
    staff = user("hm_staff")

    then = ok(staff.get(f"{API}hazards/{hazard}/", {"at": (timezone.now() - timedelta(days=3)).isoformat()}))
    now = ok(staff.get(f"{API}hazards/{hazard}/", {"at": timezone.now().isoformat()}))
    known_before = ok(staff.get(f"{API}hazards/{hazard}/", {"as_of": cutoff_passed["recorded_at"].isoformat()}))

    assert (then["status"], then["owner"]) == ("reported", None)
    assert (now["status"], now["owner"]) == ("assigned", "hm_staff")
    assert known_before["status"] == "reported"  # as_of on hazards/{id}/ is still the record time


# --- 倒查追责: nobody judged before their deadline -----------------------------------------------------------


@pytest.fixture
def demo(app: SafetyApplication) -> None:
    call_command("load_demo")


def test_the_accountability_report_judges_no_deadline_still_ahead(demo: None, client_for: Client) -> None:
    # the demo campaign's cutoff (and the reopened hazard's deadline, the same day) is still ahead
    campaign = CampaignView.objects.get()
    reopened = HazardLedger.objects.get(description="食堂燃气报警器失效")
    assert reopened.deadline == campaign.statistics_cutoff > business_date(timezone.now())

    data = report(client_for("tn_inspector"), "accountability", campaign=campaign.id)

    (findings,) = [t for t in data["tables"] if t["title"].startswith("一、")]
    rows = [dict(zip(findings["columns"], row, strict=True)) for row in findings["rows"]]
    assert rows, "the deadlines already passed are judged"
    assert not [r for r in rows if r["隐患编号"] == reopened.number and r["代码"] == "R1"]
    assert datetime.fromisoformat(data["at"]) <= timezone.now()


def test_a_finding_appears_only_once_the_moment_asked_has_passed_the_deadline(demo: None, client_for: Client) -> None:
    overdue = HazardLedger.objects.get(description="保安员超龄、无证上岗")
    assert overdue.deadline is not None
    due = deadline_end(overdue.deadline)
    inspector = client_for("tn_inspector")

    def codes(at: datetime) -> set[str]:
        found = ok(inspector.get(f"{API}hazards/{overdue.id}/accountability/", {"at": at.isoformat()}))
        return {f["code"] for f in found}

    assert "R1_OVERDUE_UNRECTIFIED" not in codes(due - timedelta(seconds=1))
    assert "R1_OVERDUE_UNRECTIFIED" in codes(due)
    everything = ok(inspector.get(f"{API}accountability/", {"at": (due - timedelta(seconds=1)).isoformat()}))
    assert not [f for f in everything["results"] if f["hazard"] == str(overdue.id) and f["code"].startswith("R1")]


def test_a_submission_recorded_before_known_at_existed_still_loads_known_at_its_submission(
    app: SafetyApplication, world: World
) -> None:
    # given a Submitted event as the code before recorded it: as_of only, no known_at
    submitted_at = timezone.now() - timedelta(days=3)
    submission = Submission.submit(
        report="suzhou-summary",
        campaign=world.campaign,
        unit=world.units["district_bureau"],
        at=submitted_at - timedelta(days=1),
        known_at=submitted_at,
        parameters={},
        copies=[{"line": "education", "sha256": "0" * 64, "size": 1, "content_type": "application/pdf"}],
        actor=world.actor("tn_inspector"),
        occurred_at=submitted_at,
    )
    (event,) = submission._pending_events  # type: ignore[attr-defined]
    del event.__dict__["known_at"]
    app.save(submission)
    catch_up(app)

    assert "known_at" not in vars(next(iter(app.events.get(submission.id))))
    loaded = app.repository.get(submission.id)
    row = SubmissionView.objects.get(id=submission.id)
    assert (loaded.at, loaded.known_at) == (submitted_at - timedelta(days=1), submitted_at)
    assert (row.at, row.known_at) == (submitted_at - timedelta(days=1), submitted_at)


def test_a_form_asked_before_its_cutoff_is_dated_today_and_describes_now(world: World, user: Client) -> None:
    # the demo campaign's statistics cutoff is still ahead
    cutoff = CampaignView.objects.get(id=world.campaign).statistics_cutoff
    assert cutoff > business_date(timezone.now())
    school = str(world.units["hongmei_school"])
    form = post(user("hm_staff"), "joint-forms/", {"campaign": str(world.campaign), "school": school}, 201)["id"]

    printed = report(user("hm_principal"), "changzhou-school-form", form=form)

    today = chinese_date(business_date(timezone.now()))
    assert {"label": "填报日期", "value": today} in printed["header"]  # not the cutoff day, still ahead
    assert datetime.fromisoformat(printed["at"]) <= timezone.now()


@pytest.mark.parametrize("name", ["at", "known_at"])
def test_who_owned_it_and_who_held_a_post_are_never_asked_about_the_future(
    world: World, user: Client, name: str
) -> None:
    """ownership/ and units/{id}/staff/ take the same two times: more than 5 minutes ahead is 400, not a forecast."""
    ahead = (timezone.now() + timedelta(minutes=6)).isoformat()
    nearly = (timezone.now() + timedelta(minutes=4)).isoformat()
    inspector = user("tn_inspector")
    staff = f"units/{world.units['hongmei_school']}/staff/"
    for path in ("ownership/", staff):
        refused(inspector.get(API + path, {name: ahead}), 400, "moment_in_future", name)
        ok(inspector.get(API + path, {name: nearly}))


def test_the_demo_counts_its_deadlines_from_the_campaigns_first_day_when_it_began_just_before_midnight(
    app: SafetyApplication,
) -> None:
    # loaded at 14:30 UTC, the campaign opens at 23:30 Beijing time and the hazards are found from 00:30 the next day:
    # the reopened hazard's deadline is still the campaign's cutoff (it was a day late when counted from the hazards)
    now = (timezone.now() - timedelta(days=1)).astimezone(BUSINESS_TZ).replace(hour=22, minute=30, second=0)
    with transaction.atomic():
        demo_data.load(app, now)
        catch_up(app)

    campaign = CampaignView.objects.get()
    assert campaign.phases[0]["start"] == (now - timedelta(days=30) + timedelta(hours=1)).date().isoformat()
    reopened = HazardLedger.objects.get(description="食堂燃气报警器失效")
    assert reopened.deadline == campaign.statistics_cutoff
