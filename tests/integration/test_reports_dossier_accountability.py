"""隐患档案 (hazard-dossier) and 倒查追责 (accountability) over HTTP, read from their real JSON, PDF and XLSX."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image

from domain.application import SafetyApplication
from domain.timerules import business_date
from projections.campaigns import CampaignView
from projections.hazard.rows import HazardLedger
from projections.integrity import ChainLink
from reports.base import chinese_date

from apihelpers import API, ok, refused

Client = Any
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture
def demo(app: SafetyApplication) -> str:
    """The demo district; the moment after everything it records, asked as both ``at`` and ``known_at``: the same
    answer on every request."""
    call_command("load_demo")
    return timezone.now().isoformat()


def hazard(description: str) -> HazardLedger:
    return HazardLedger.objects.get(description=description)


def fetch(client: Client, name: str, fmt: str = "json", **params: str) -> bytes:
    response = client.get(f"{API}reports/{name}/", {"format": fmt, **params})
    assert response.status_code == 200, response.content.decode(errors="replace")[:500]
    return bytes(response.content)


def report(client: Client, name: str, **params: str) -> dict[str, Any]:
    return ok(client.get(f"{API}reports/{name}/", {"format": "json", **params}))  # type: ignore[no-any-return]


def table(data: dict[str, Any], title_starts: str) -> dict[str, Any]:
    (found,) = [t for t in data["tables"] if t["title"].startswith(title_starts)]
    return found  # type: ignore[no-any-return]


def records(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(found["columns"], row, strict=True)) for row in found["rows"]]


def pdf_text(content: bytes, tmp_path: Path, keep_as: str = "") -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    if keep_as:  # kept to be looked at as a picture, as a person would check it
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / keep_as).write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def first_page(content: bytes, tmp_path: Path, keep_as: str) -> Image.Image:
    (tmp_path / "page.pdf").write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(tmp_path / "page.pdf"), str(tmp_path / "page")],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / keep_as).write_bytes(png.read_bytes())
    return Image.open(png).convert("L")


def assert_printed(image: Image.Image, *, landscape: bool) -> None:
    """A page with text and table rules on it: wider than tall when landscape, a fair share of dark pixels."""
    width, height = image.size
    assert (width > height) is landscape
    dark = sum(count for level, count in enumerate(image.histogram()) if level < 128)
    assert 0.01 < dark / (width * height) < 0.5, dark / (width * height)


def xlsx_values(content: bytes) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [tuple(v for v in row if v is not None) for row in sheet.iter_rows(values_only=True)]


def rows_after(values: list[tuple[Any, ...]], header_first: str) -> list[tuple[Any, ...]]:
    start = next(i for i, row in enumerate(values) if row and row[0] == header_first)
    return values[start:]


def header_lines(text: str, known_at: str) -> None:
    today = chinese_date(business_date(datetime.fromisoformat(known_at)))
    for line in ("填报单位（盖章）：天宁区教育局", "填报人：钱督查", "联系电话：0519-856812", f"填报日期：{today}"):
        assert line in text, line


# --- 隐患档案 ------------------------------------------------------------------------------------------------


def test_the_dossier_pdf_shows_the_hazard_its_events_owners_and_findings(
    demo: str, client_for: Client, tmp_path: Path
) -> None:
    overdue = hazard("保安员超龄、无证上岗")
    content = fetch(client_for("tn_inspector"), "hazard-dossier", "pdf", hazard=str(overdue.id), at=demo, known_at=demo)

    text = pdf_text(content, tmp_path, keep_as="hazard-dossier.pdf")
    assert "校园安全隐患档案" in text
    header_lines(text, demo)
    for heading in ("一、基本情况", "二、事件记录（共3条）", "三、整改责任人变动", "四、倒查追责结论（共2条）"):
        assert heading in text
    for column in ("编号", "问题表现", "责任单位", "整改时限", "发现时间", "销号时间", "版本", "记录时间", "操作人"):
        assert column in text
    for value in (overdue.number, "红梅实验小学", "发现登记", "分派", "逾期", "赵后勤", "hm_staff2", "R1", "R4"):
        assert value in text, value
    assert "链哈希" in text and "verify_integrity" in text
    chain = ChainLink.objects.filter(originator_id=overdue.id).values_list("hash", flat=True)
    assert chain and all(h[:16] in text for h in chain)
    assert re.search(r"第1页/共\d+页", text.replace(" ", ""))  # the page footer
    assert_printed(first_page(content, tmp_path, "hazard-dossier-p1.png"), landscape=True)


def test_the_dossier_json_renders_each_event_in_chinese_with_its_actor_and_the_owner_intervals(
    demo: str, client_for: Client
) -> None:
    major = hazard("围墙周界无防入侵报警系统，部分围墙破损")

    data = report(client_for("auditor"), "hazard-dossier", hazard=str(major.id), at=demo, known_at=demo)

    assert data["landscape"] is True and data["parameters"] == {"hazard": str(major.id)}
    (summary,) = records(table(data, "一、"))
    assert summary["状态"] == "整改中（已上报、挂牌督办）" and summary["等级"] == "重大隐患"
    assert summary["责任人"] == "王校长（hm_principal）" and summary["责任单位"] == "红梅实验小学"
    assert summary["销号时间"] is None  # "/" on paper: not closed
    events = records(table(data, "二、"))
    assert [e["事件"] for e in events] == [
        "发现登记",
        "临时防范措施",
        "分派",
        "整改方案",
        "上报",
        "挂牌督办",
        "逾期",
        "延期",
    ]
    assert [e["版本"] for e in events] == list(range(1, 9))
    by_kind = {e["事件"]: e for e in events}
    assert by_kind["挂牌督办"]["操作人"] == "何局长（tn_leader）"
    assert "督办单位：天宁区教育局" in by_kind["挂牌督办"]["内容"]
    assert by_kind["上报"]["内容"].startswith("上报至：天宁区教育局；原因：")
    assert (
        by_kind["逾期"]["操作人"] == "系统（自动记录）"
        and "时任责任人：王校长（hm_principal）" in by_kind["逾期"]["内容"]
    )
    assert "无力整改" in by_kind["整改方案"]["内容"]
    chain = dict(ChainLink.objects.filter(originator_id=major.id).values_list("originator_version", "hash"))
    assert [e["链哈希"] for e in events] == [chain[e["版本"]][:16] for e in events]
    assert by_kind["逾期"]["发生时间"].endswith("T00:00:00+08:00")  # business time, Asia/Shanghai: the deadline's 24:00
    (owner,) = records(table(data, "三、"))
    assert owner["责任人"] == "王校长（hm_principal）" and owner["止"] == "至今"
    findings = records(table(data, "四、"))
    r7 = [f for f in findings if f["代码"] == "R7"]
    assert len(r7) == 1  # the first deadline; the extended one is still ahead, so nobody is judged for it yet
    for finding in r7:
        assert "天宁区教育局（单位）" in finding["责任主体"] and "王校长（hm_principal）" in finding["责任主体"]
        assert "何局长（天宁区教育局）" in finding["说明"] and "天宁区教育局负有责任" in finding["说明"]
    assert r7[0]["证据版本"] == "第3、6、7版"


def test_the_dossier_known_at_a_record_time_before_an_event_leaves_that_event_out(
    demo: str, app: SafetyApplication, client_for: Client, tmp_path: Path
) -> None:
    reopened = hazard("食堂燃气报警器失效")
    reopen = app.hazard_events(reopened.id)[-1]
    before = (reopen.timestamp - timedelta(microseconds=1)).isoformat()
    auditor = client_for("auditor")

    then = report(auditor, "hazard-dossier", hazard=str(reopened.id), known_at=before)
    now = report(auditor, "hazard-dossier", hazard=str(reopened.id), known_at=reopen.timestamp.isoformat())

    assert [e["事件"] for e in records(table(then, "二、"))] == ["发现登记", "分派", "整改完成", "验收通过/销号"]
    assert records(table(then, "一、"))[0]["状态"] == "已销号"
    (owner,) = records(table(then, "三、"))
    assert owner["责任人"] == "李安全（hm_staff）" and owner["止"].endswith("（销号）")
    assert records(table(then, "四、")) == [] and table(then, "四、")["notes"]
    assert [e["事件"] for e in records(table(now, "二、"))][-1] == "重新打开"
    assert [f["代码"] for f in records(table(now, "四、"))] == ["R5"]
    text = pdf_text(fetch(auditor, "hazard-dossier", "pdf", hazard=str(reopened.id), known_at=before), tmp_path)
    assert "验收通过/销号" in text and "重新打开" not in text


def test_the_dossier_before_the_hazard_was_recorded_is_not_found(
    demo: str, app: SafetyApplication, client_for: Client
) -> None:
    overdue = hazard("保安员超龄、无证上岗")
    first = app.hazard_events(overdue.id)[0].timestamp - timedelta(seconds=1)

    response = client_for("auditor").get(
        f"{API}reports/hazard-dossier/", {"hazard": str(overdue.id), "known_at": first.isoformat()}
    )

    refused(response, 404, "hazard_not_found")


def test_the_dossier_xlsx_holds_the_same_cells(demo: str, client_for: Client) -> None:
    overdue = hazard("保安员超龄、无证上岗")

    values = xlsx_values(
        fetch(client_for("tn_inspector"), "hazard-dossier", "xlsx", hazard=str(overdue.id), at=demo, known_at=demo)
    )

    assert values[0] == ("校园安全隐患档案",)
    assert ("填报单位（盖章）：天宁区教育局",) in values and ("填报人：钱督查",) in values
    events = rows_after(values, "版本")
    assert events[0] == ("版本", "事件", "发生时间", "记录时间", "操作人", "内容", "链哈希")
    assert [row[1] for row in events[1:4]] == ["发现登记", "分派", "逾期"]
    assert events[2][4] == "王校长（hm_principal）" and "责任人：赵后勤（hm_staff2）" in events[2][5]
    (summary,) = [row for row in values if row and row[0] == overdue.number]
    assert "整改中（逾期）" in summary


def test_a_hazard_outside_the_callers_scope_has_no_dossier(demo: str, client_for: Client) -> None:
    hongmei = hazard("保安员超龄、无证上岗")
    qinglong = client_for("ql_principal")

    for fmt in ("json", "pdf", "xlsx"):
        response = qinglong.get(f"{API}reports/hazard-dossier/", {"hazard": str(hongmei.id), "format": fmt})
        refused(response, 404, "hazard_not_found")
    refused(qinglong.get(f"{API}reports/hazard-dossier/"), 400, "invalid_value", field="hazard")


# --- 倒查追责 ------------------------------------------------------------------------------------------------


def test_the_accountability_report_names_the_people_and_units_of_the_demo_findings(
    demo: str, client_for: Client
) -> None:
    data = report(client_for("tn_inspector"), "accountability", at=demo, known_at=demo)

    rows = records(table(data, "一、"))
    overdue, reopened = hazard("保安员超龄、无证上岗"), hazard("食堂燃气报警器失效")
    major = hazard("围墙周界无防入侵报警系统，部分围墙破损")
    r1 = {(r["责任人"], r["角色（当时）"]) for r in rows if r["代码"] == "R1" and r["隐患编号"] == overdue.number}
    assert r1 == {("赵后勤（hm_staff2）", "学校工作人员"), ("王校长（hm_principal）", "校长")}
    (r5,) = [r for r in rows if r["代码"] == "R5" and r["隐患编号"] == reopened.number]
    assert (r5["单位"], r5["责任人"], r5["角色（当时）"]) == ("红梅实验小学", "王校长（hm_principal）", "校长")
    assert r5["依据"] == "谁验收谁负责" and "王校长（红梅实验小学）" in r5["说明"]
    r7 = [r for r in rows if r["代码"] == "R7" and r["隐患编号"] == major.number]
    assert ("天宁区教育局", "—", None) in {(r["单位"], r["责任人"], r["角色（当时）"]) for r in r7}
    assert ("红梅实验小学", "王校长（hm_principal）") in {(r["单位"], r["责任人"]) for r in r7}
    assert [r["序号"] for r in rows] == list(range(1, len(rows) + 1))


def test_the_accountability_rows_are_grouped_by_unit_then_person(demo: str, client_for: Client) -> None:
    rows = records(table(report(client_for("auditor"), "accountability", at=demo, known_at=demo), "一、"))

    units = [r["单位"] for r in rows]
    assert units == sorted(units, key=units.index)  # each unit's rows together
    assert units.index("红梅实验小学") < units.index("天宁区教育局")  # schools before the bureau
    for unit in set(units):
        people = [r["责任人"] for r in rows if r["单位"] == unit]
        assert people == sorted(people, key=people.index)


def test_the_summary_counts_per_rule_add_up_to_the_findings(demo: str, client_for: Client) -> None:
    inspector = client_for("tn_inspector")
    data = report(inspector, "accountability", at=demo, known_at=demo)
    from_api = ok(inspector.get(f"{API}accountability/", {"at": demo, "known_at": demo, "limit": 1000}))

    summary = table(data, "二、")
    assert [row[0] for row in summary["rows"]] == ["R1", "R2", "R3", "R4", "R5", "R6", "R7"]
    counts = {row[1]: row[3] for row in summary["rows"]}
    assert summary["total"][0] == "合计" and summary["total"][3] == sum(counts.values())
    assert sum(counts.values()) == from_api["count"] > 0
    for code in ("R1_OVERDUE_UNRECTIFIED", "R5_VERIFIED_BUT_RECURRED", "R7_SUPERVISED_OVERDUE"):
        assert counts[code] == sum(1 for f in from_api["results"] if f["code"] == code) >= 1
    assert summary["total"][4] == len(table(data, "一、")["rows"])


def test_the_accountability_pdf_and_xlsx_show_titles_headers_columns_and_names(
    demo: str, client_for: Client, tmp_path: Path
) -> None:
    inspector = client_for("tn_inspector")
    content = fetch(inspector, "accountability", "pdf", at=demo, known_at=demo)

    text = pdf_text(content, tmp_path, keep_as="accountability.pdf")
    assert "校园安全隐患倒查追责情况表" in text
    header_lines(text, demo)
    for column in ("序号", "单位", "责任人", "角色（当时）", "隐患编号", "代码", "依据", "期间", "说明", "合计"):
        assert column in text, column
    for value in ("赵后勤", "王校长", "天宁区教育局", "学校工作人员", "R1", "R5", "R7", "谁验收谁负责"):
        assert value in text, value
    assert_printed(first_page(content, tmp_path, "accountability-p1.png"), landscape=True)

    values = xlsx_values(fetch(inspector, "accountability", "xlsx", at=demo, known_at=demo))
    assert values[0] == ("校园安全隐患倒查追责情况表",)
    assert rows_after(values, "序号")[0] == (
        "序号",
        "单位",
        "责任人",
        "角色（当时）",
        "隐患编号",
        "代码",
        "依据",
        "期间",
        "说明",
    )
    r5 = [row for row in values if len(row) > 5 and row[5] == "R5"]
    assert [row[1:4] for row in r5] == [("红梅实验小学", "王校长（hm_principal）", "校长")]
    (total,) = [row for row in values if row and row[0] == "合计"]
    assert total[1] == ok(inspector.get(f"{API}accountability/", {"at": demo, "known_at": demo}))["count"]


def test_the_accountability_report_keeps_to_the_callers_scope_and_the_unit_and_campaign_asked(
    demo: str, client_for: Client
) -> None:
    qinglong = records(table(report(client_for("ql_principal"), "accountability", at=demo, known_at=demo), "一、"))
    assert all(r["单位"] == "青龙中学" for r in qinglong)
    assert not any("hm_" in (r["责任人"] or "") for r in qinglong)

    inspector = client_for("tn_inspector")
    school = str(hazard("保安员超龄、无证上岗").school)
    hongmei = report(inspector, "accountability", unit=school, at=demo, known_at=demo)
    assert hongmei["parameters"]["unit"] == school and records(table(hongmei, "一、"))
    campaign = CampaignView.objects.get()
    by_campaign = report(inspector, "accountability", campaign=str(campaign.id))
    assert by_campaign["parameters"]["campaign"] == str(campaign.id) and campaign.title in by_campaign["subtitle"]
    refused(client_for("ql_principal").get(f"{API}reports/accountability/", {"unit": school}), 404, "unit_not_found")


# --- stable for the same inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hazard-dossier", "accountability"])
def test_the_same_request_twice_gives_the_same_report(
    name: str, demo: str, client_for: Client, tmp_path: Path
) -> None:
    auditor = client_for("auditor")
    params = {"at": demo, "known_at": demo}
    if name == "hazard-dossier":
        params["hazard"] = str(hazard("围墙周界无防入侵报警系统，部分围墙破损").id)

    assert fetch(auditor, name, "json", **params) == fetch(auditor, name, "json", **params)
    first, second = (pdf_text(fetch(auditor, name, "pdf", **params), tmp_path) for _ in range(2))
    assert first == second and first.strip()
    assert xlsx_values(fetch(auditor, name, "xlsx", **params)) == xlsx_values(fetch(auditor, name, "xlsx", **params))
