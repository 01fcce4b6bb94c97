"""``statistics/``: 发现数, 整改数, 整改率, 逾期数, 逾期率, 重大隐患 and 挂牌督办 at ``at`` as known at
``known_at``, in the caller's scope — and the same figures as 苏州 附件1 and 常州 附件2 for the same two times."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from statisticshelpers import build_ledger

from api.demo import World
from domain.application import SafetyApplication
from domain.timerules import deadline_end
from projections.statistics import week_of

from apihelpers import API, ok, other_district_inspector, refused

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo

Client = Any


@pytest.fixture
def ledger(app: SafetyApplication, world: World) -> dict[str, Any]:
    return build_ledger(app, world)


def statistics(client: Any, **params: Any) -> dict[str, Any]:
    query = {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in params.items()}
    return ok(client.get(f"{API}statistics/", query))  # type: ignore[no-any-return]


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in body["groups"]}


def figures(row: dict[str, Any]) -> tuple[int, ...]:
    keys = ("found", "rectified", "open", "overdue", "major", "supervised")
    return tuple(row[k] for k in keys)


def test_the_figures_of_a_known_ledger_by_school(world: World, user: Client, ledger: dict[str, Any]) -> None:
    body = statistics(user("tn_inspector"), campaign=world.campaign, at=ledger["at"], known_at=ledger["mark"])
    # 发现 5 at 红梅 (voided and found-after-at left out): 2 rectified, 3 open of which 1 overdue, 1 major supervised
    assert figures(body["total"]) == (6, 2, 4, 1, 1, 1)
    assert body["total"]["rectification_rate"] == pytest.approx(2 / 6)
    assert body["total"]["overdue_rate"] == pytest.approx(1 / 4)
    schools = by_name(body)
    assert list(schools) == sorted(schools)  # every school in scope, by name, none found included
    assert set(schools) == {"红梅实验小学", "青龙中学", "兰陵幼儿园"}
    assert figures(schools["红梅实验小学"]) == (5, 2, 3, 1, 1, 1)
    assert schools["红梅实验小学"]["rectification_rate"] == pytest.approx(0.4)
    assert schools["红梅实验小学"]["overdue_rate"] == pytest.approx(1 / 3)
    assert figures(schools["青龙中学"]) == (1, 0, 1, 0, 0, 0)
    assert figures(schools["兰陵幼儿园"]) == (0, 0, 0, 0, 0, 0)
    assert schools["兰陵幼儿园"]["rectification_rate"] is None and schools["兰陵幼儿园"]["overdue_rate"] is None
    assert body["group"] == "school" and "发现数" in body["definitions"]["found"]


def test_a_late_recorded_hazard_counts_only_as_known_after_its_recording(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    bureau = user("tn_inspector")
    before = statistics(bureau, campaign=world.campaign, at=ledger["at"], known_at=ledger["mark"])
    after = statistics(bureau, campaign=world.campaign, at=ledger["at"])  # known_at: now
    assert (before["total"]["found"], after["total"]["found"]) == (6, 7)
    assert by_name(after)["红梅实验小学"]["open"] == 4
    # the same (at, known_at) always gives the same figures
    assert statistics(bureau, campaign=world.campaign, at=ledger["at"], known_at=ledger["mark"]) == before


def test_a_deadline_still_ahead_is_not_overdue_and_at_moves_the_figures(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    bureau = user("tn_inspector")
    just_before = deadline_end(ledger["missed"]) - timedelta(minutes=1)
    body = statistics(bureau, at=just_before, known_at=ledger["mark"])  # no campaign: every campaign
    assert body["total"]["overdue"] == 0 and body["total"]["open"] >= 1
    assert statistics(bureau, at=deadline_end(ledger["missed"]), known_at=ledger["mark"])["total"]["overdue"] == 1
    now = statistics(bureau, known_at=ledger["mark"])  # at: now — the hazard found after the old ``at`` counts
    assert now["total"]["found"] == 7


def test_by_category_and_by_week(world: World, user: Client, ledger: dict[str, Any]) -> None:
    bureau = user("tn_inspector")
    params = {"campaign": world.campaign, "at": ledger["at"], "known_at": ledger["mark"]}
    categories = by_name(statistics(bureau, group="category", **params))
    assert figures(categories["人防物防技防"]) == (3, 0, 3, 1, 1, 1)
    assert figures(categories["危险化学品"]) == (1, 1, 0, 0, 0, 0)
    assert figures(categories["消防安全"]) == (2, 1, 1, 0, 0, 0)  # 红梅's closed one and 青龙's
    weeks = statistics(bureau, group="week", **params)
    assert sum(g["found"] for g in weeks["groups"]) == 6
    assert [g["key"] for g in weeks["groups"]] == sorted(g["key"] for g in weeks["groups"])
    assert all(datetime.fromisoformat(g["key"]).weekday() == 0 for g in weeks["groups"])  # each week's Monday
    assert all("至" in g["name"] for g in weeks["groups"])


def test_scope_another_district_and_a_school_see_only_their_own(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    other_district_inspector()
    elsewhere = ok(user("wj_inspector").get(f"{API}statistics/"))
    assert elsewhere["total"]["found"] == 0 and elsewhere["groups"] == []
    assert "红梅" not in json.dumps(elsewhere, ensure_ascii=False)
    # 天宁区's campaign is not theirs: as for the reports, 404
    refused(user("wj_inspector").get(f"{API}statistics/", {"campaign": str(world.campaign)}), 404, "campaign_not_found")

    school = statistics(user("ql_staff"), at=ledger["at"], known_at=ledger["mark"])
    assert [g["name"] for g in school["groups"]] == ["青龙中学"] and school["total"]["found"] == 1
    station = statistics(user("hm_chief"), at=ledger["at"], known_at=ledger["mark"])  # 红梅派出所: 红梅 and 兰陵
    assert {g["name"] for g in station["groups"]} == {"红梅实验小学", "兰陵幼儿园"} and station["total"]["found"] == 5


def test_bad_parameters_are_refused_with_a_code(world: World, user: Client, anonymous: Any) -> None:
    bureau = user("tn_inspector")
    url = f"{API}statistics/"
    refused(bureau.get(url, {"group": "month"}), 400, "invalid_value", "group")
    refused(bureau.get(url, {"at": "yesterday"}), 400, "invalid_value", "at")
    refused(bureau.get(url, {"known_at": "2026-13-01"}), 400, "invalid_value", "known_at")
    refused(bureau.get(url, {"campaign": "not-a-uuid"}), 400, "invalid_value", "campaign")
    refused(bureau.get(url, {"at": (timezone.now() + timedelta(days=1)).isoformat()}), 400, "moment_in_future", "at")
    body = refused(bureau.get(url, {"school": str(world.units["hongmei_school"])}), 400, "unknown_parameter")
    assert "school" in body["detail"]
    assert anonymous.get(url).status_code == 401


# --- the reports count the same -----------------------------------------------------------------------------


def report(client: Any, name: str, **params: Any) -> dict[str, Any]:
    query = {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in params.items()}
    return ok(client.get(f"{API}reports/{name}/", {"format": "json", **query}))  # type: ignore[no-any-return]


@pytest.mark.parametrize("known", ["mark", "now"])
def test_suzhou_and_changzhou_reports_give_the_endpoints_figures(
    world: World, user: Client, ledger: dict[str, Any], known: str
) -> None:
    bureau = user("tn_inspector")
    params: dict[str, Any] = {"campaign": world.campaign, "at": ledger["at"]}
    if known == "mark":  # before the late hazard was recorded; "now": after it
        params["known_at"] = ledger["mark"]
    stats = statistics(bureau, **params)
    total = stats["total"]
    assert total["found"] == (6 if known == "mark" else 7)

    suzhou = report(bureau, "suzhou-summary", **params)["tables"][0]
    # 合计: 督查检查次数, 排查学校个数, 发现隐患问题数, 已整改完成, 未整改完成
    assert suzhou["total"][3:] == [total["found"], total["rectified"], total["found"] - total["rectified"]]

    changzhou = report(bureau, "changzhou-district-summary", **params)["tables"][0]
    # 区域, 属地派出所, 学校名称, …, 校园隐患总数, 整改数, …
    rows = {row[2]: (row[5], row[6]) for row in changzhou["rows"]}
    assert rows == {g["name"]: (g["found"], g["rectified"]) for g in stats["groups"]}
    assert changzhou["total"][5:7] == [total["found"], total["rectified"]]
    rates = {name: (done / found if found else None) for name, (found, done) in rows.items()}
    assert rates == {g["name"]: g["rectification_rate"] for g in stats["groups"]}


def test_the_schema_documents_the_parameters(world: World, user: Client) -> None:
    schema = ok(user("tn_inspector").get(f"{API}schema/", {"format": "json"}))
    operation = schema["paths"]["/api/v1/statistics/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"campaign", "at", "known_at", "group"}
    assert "统计" in operation["summary"]


def test_a_week_runs_monday_to_sunday_in_beijing_time() -> None:
    assert week_of(datetime(2026, 11, 8, 15, 59, tzinfo=UTC)) == date(2026, 11, 2)  # Sunday 23:59 in Beijing
    assert week_of(datetime(2026, 11, 8, 16, 0, tzinfo=UTC)) == date(2026, 11, 9)  # Monday 00:00 in Beijing
