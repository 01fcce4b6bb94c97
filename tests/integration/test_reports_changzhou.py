"""常州 reports over HTTP, read from their real outputs: 附件1 (the signed joint form) and 附件2 (汇总表（区）)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from reporthelpers import ink_ratio, page_png, pdf_text, xlsx_rows
from rest_framework.test import APIClient

from api.demo import World
from api.reports.query import build_query
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.jointform.fields import FOOTER
from domain.timerules import business_date
from projections.runner import catch_up
from reports.changzhou import POLICE_SECTION
from reports.registry import load_all
from reports.render import html_to_pdf, render_json, render_xlsx

from apihelpers import API, fill_joint_form, ok, post, refused

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo

Client = Any
SECRET = "线索：校门口可疑人员多次徘徊（绝密-CZ-REPORT-5521）"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


def report(client: APIClient, name: str, fmt: str = "json", **params: Any) -> bytes:
    response = client.get(f"{API}reports/{name}/", {"format": fmt, **{k: str(v) for k, v in params.items()}})
    assert response.status_code == 200, response.content.decode(errors="replace")[:500]
    return bytes(response.content)


def looked_at(pdf: bytes, name: str) -> float:
    """Page 1 as a picture (and the PDF), kept under test-artifacts/reports/ to be looked at; its share of ink."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    return ink_ratio(page_png(pdf, keep_as=ARTIFACTS / f"{name}.png"))


def xlsx_cells(content: bytes) -> list[list[Any]]:
    return [list(row) for row in xlsx_rows(content)]


def squeezed(text: str) -> str:
    """PDF text without layout spaces and line breaks: a wrapped cell reads as one string."""
    return "".join(text.split())


# --- the world: hazards at two schools, 红梅实验小学's form filled by both parties and signed ---------------


@pytest.fixture
def hazards(app: SafetyApplication, world: World) -> dict[str, Any]:
    """红梅实验小学: 3 hazards (1 closed on the spot, 1 rectified, 1 open); 青龙中学: 2 open; 兰陵幼儿园: none."""
    start = timezone.now() - timedelta(days=5)
    hongmei, qinglong = world.units["hongmei_school"], world.units["qinglong_school"]

    def discover(school: Any, actor: str, text: str, on_spot: bool = False) -> Any:
        return app.discover_hazard(
            actor=world.actor(actor),
            campaign=world.campaign,  # type: ignore[arg-type]
            school=school,
            description=text,
            severity=Severity.GENERAL,
            location="校门口",
            rectified_on_spot=on_spot,
            occurred_at=start,
        ).id

    discover(hongmei, "hm_staff", "消防通道堆放杂物", on_spot=True)
    fixed = discover(hongmei, "hm_staff", "校门口缺少隔离栏")
    still_open = discover(hongmei, "hm_staff", "围墙局部破损")
    discover(qinglong, "ql_staff", "宿舍一键报警故障")
    discover(qinglong, "ql_staff", "食堂燃气报警器失效")
    principal = world.actor("hm_principal")
    for n, hazard in enumerate((fixed, still_open)):
        app.assign_hazard(
            hazard,
            actor=principal,
            owner="hm_staff",
            owner_unit=hongmei,
            deadline=business_date(start) + timedelta(days=30),
            occurred_at=start + timedelta(hours=1 + n),
        )
    app.rectify_hazard(
        fixed, actor=world.actor("hm_staff"), note="已安装隔离栏", occurred_at=start + timedelta(hours=3)
    )
    catch_up(app)
    return {"fixed": fixed, "open": still_open, "start": start}


def patch(client: APIClient, form: str, body: dict[str, Any]) -> Any:
    return ok(client.patch(f"{API}joint-forms/{form}/", body, format="json"))


SCHOOL_PART = {
    "task_force_established": True,
    "task_force_lead": "李安全",
    "holiday_duty_roster": True,
    "leader_on_duty": False,
    "guards_total": 4,
    "guards_licensed": 3,
    "guards_over_age": 1,
    "cctv_cameras": 36,
    "panic_button_dormitory": None,
    "school_bus_hazards": None,
    "work_report": "已完成自查，发现隐患3处，整改2处。",
}
POLICE_PART = {
    "surrounding_order_hotspots": "校门口流动摊贩聚集",
    "hotspots_rectified": False,
    "school_instability_factors": "无",
    "sensitive_notes": SECRET,
}


@pytest.fixture
def form(world: World, user: Client, hazards: dict[str, Any]) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form_id = str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])
    # Both parties fill every cell; the station officer writes the police-only note too.
    fill_joint_form(user("hm_staff"), user("hm_officer"), form_id, **SCHOOL_PART, **POLICE_PART)
    content_hash = ok(user("hm_principal").get(f"{API}joint-forms/{form_id}/"))["content_hash"]
    for signer in ("hm_principal", "hm_chief"):
        post(user(signer), f"joint-forms/{form_id}/sign/", {"content_hash": content_hash})
    return form_id


def form_params(world: World, form: str) -> dict[str, Any]:
    return {"form": form, "campaign": world.campaign}


# --- 附件1 ------------------------------------------------------------------------------------------------


def test_school_form_json_lists_the_seed_fields_in_order_with_counts_and_signatures(
    world: World, user: Client, form: str
) -> None:
    data = json.loads(report(user("hm_principal"), "changzhou-school-form", **form_params(world, form)))
    assert (data["attachment"], data["title"]) == ("附件1", "学校及周边安全排查整改情况报表")
    assert "单位名称：红梅实验小学" in data["subtitle"] and "属地派出所：红梅派出所" in data["subtitle"]
    assert data["tables"][0]["rows"][:2] == [["单位名称", "红梅实验小学"], ["属地派出所", "红梅派出所"]]
    header = {h["label"]: h["value"] for h in data["header"]}
    assert header["填报单位（盖章）"] == "红梅实验小学" and header["填报人"] == "王校长"
    assert header["联系电话"] == "0519-856812" and header["填报日期"].endswith("日")

    fields, signatures = data["tables"]
    assert fields["columns"] == ["栏目", "填写内容"]
    pairs = [tuple(row) for row in fields["rows"]]
    labels = [label for label, _ in pairs]
    # The seed's order: 治安乱点 right after 危化品, the counts just before the work report.
    assert labels[:3] == ["单位名称", "属地派出所", "填表日期"]
    assert labels[3:6] == ["是否成立工作专班", "专班负责人", "学校假期是否有值班表"]
    assert labels.index("危险化学品安全管理三防措施是否落实") + 1 == labels.index("校园周边治安乱点情况")
    assert labels[-4:] == ["排查出的总隐患数", "隐患整改数", "未整改隐患数", "排查整改工作情况报告"]
    values = dict(pairs)
    assert values["是否成立工作专班"] == "是" and values["领导是否带班"] == "否" and values["保安员人数"] == 4
    assert values["一键报警有无·学生宿舍（无宿舍填“/”）"] is None  # printed "/": no dormitory
    assert values["校车等安全隐患情况（无校车等用“/”）"] is None
    assert values["隐患整改数"] == 2 and values["排查出的总隐患数"] == 3 and values["未整改隐患数"] == 1
    assert values["校园周边治安乱点情况"] == "校门口流动摊贩聚集" and values["是否整改"] == "否"
    assert values["围墙周界有无防入侵报警系统"] == "是"  # every cell filled before signing
    assert fields["notes"] == [FOOTER]

    content_hash = data["parameters"]["content_hash"]
    assert [row[:2] + row[3:] for row in signatures["rows"]] == [
        ["校长", "王校长", content_hash, "有效"],
        ["所长", "郑所长", content_hash, "有效"],
    ]
    assert data["footer"][0].startswith("校长：王校长（") and content_hash in data["footer"][0]
    assert data["footer"][1].startswith("所长：郑所长（") and content_hash in data["footer"][1]


def test_school_form_pdf_is_the_seed_form_with_the_filing_lines_and_signatures(
    world: World, user: Client, form: str
) -> None:
    content = report(user("hm_principal"), "changzhou-school-form", "pdf", **form_params(world, form))
    text = pdf_text(content)
    flat = squeezed(text)
    assert "附件1" in text and "学校及周边安全排查整改情况报表" in text
    for line in ("单位名称：红梅实验小学", "填报单位（盖章）：红梅实验小学", "填报人：王校长", "联系电话：0519-856812"):
        assert line in flat, line
    assert "填报日期：" in flat and "填表日期：" in flat
    for label in ("是否成立工作专班", "专班负责人", "保安员持证上岗人数", "校园周边治安乱点情况", "排查出的总隐患数"):
        assert label in flat, label
    for value in ("李安全", "校门口流动摊贩聚集", "已完成自查，发现隐患3处，整改2处。"):
        assert value in flat, value
    assert "/" in text  # 学生宿舍 and 校车: not applicable
    assert squeezed(FOOTER) in flat
    assert "校长：王校长（" in flat and "所长：郑所长（" in flat
    content_hash = json.loads(report(user("hm_principal"), "changzhou-school-form", **form_params(world, form)))[
        "parameters"
    ]["content_hash"]
    assert content_hash in flat
    assert looked_at(content, "changzhou-school-form") > 0.01


def test_school_form_xlsx_has_the_pairs_counts_and_signature_lines(world: World, user: Client, form: str) -> None:
    cells = xlsx_cells(report(user("tn_inspector"), "changzhou-school-form", "xlsx", **form_params(world, form)))
    assert cells[0][0] == "附件1" and cells[1][0] == "学校及周边安全排查整改情况报表"
    assert cells[2][0].startswith("单位名称：红梅实验小学")  # the subtitle line
    assert cells[3][0] == "填报单位（盖章）：天宁区教育局" and cells[4][0] == "填报人：钱督查"
    pairs = {row[0]: row[1] for row in cells if row[0] and len(row) > 1 and row[1] is not None}
    assert pairs["排查出的总隐患数"] == 3 and pairs["隐患整改数"] == 2 and pairs["未整改隐患数"] == 1
    assert pairs["是否成立工作专班"] == "是" and pairs["一键报警有无·学生宿舍（无宿舍填“/”）"] == "/"
    assert pairs["单位名称"] == "红梅实验小学" and pairs["保安员人数"] == 4
    firsts = [row[0] for row in cells]
    assert FOOTER in firsts
    assert any(str(v).startswith("校长：王校长（") for v in firsts)
    assert any(str(v).startswith("所长：郑所长（") for v in firsts)


def test_the_police_only_note_never_reaches_an_education_output(world: World, user: Client, form: str) -> None:
    params = form_params(world, form)
    for username in ("tn_inspector", "hm_principal", "hm_officer"):
        client = user(username)
        for name, extra in (
            ("changzhou-school-form", params),
            ("changzhou-district-summary", {"campaign": world.campaign}),
        ):
            outputs = {
                "json": report(client, name, "json", **extra).decode(),
                "pdf": pdf_text(report(client, name, "pdf", **extra)),
                "xlsx": json.dumps(xlsx_cells(report(client, name, "xlsx", **extra)), ensure_ascii=False),
            }
            for fmt, output in outputs.items():
                assert "CZ-REPORT-5521" not in squeezed(output), (username, name, fmt)
                assert POLICE_SECTION not in output, (username, name, fmt)


def test_the_police_line_copy_carries_the_note_in_its_own_section(world: World, form: str) -> None:
    spec = load_all()["changzhou-school-form"]
    params = {k: str(v) for k, v in form_params(world, form).items()}
    police = build_query(spec, params, world.actor("hm_officer"), police_line=True)
    education = build_query(spec, params, world.actor("hm_officer"))

    built = spec.build(police)
    section = built.tables[-1]
    assert section.title == POLICE_SECTION and section.rows[0][1] == SECRET
    assert SECRET in render_json(built).decode()
    assert SECRET in json.dumps(xlsx_cells(render_xlsx(built)), ensure_ascii=False)
    assert spec.pdf_html is not None
    police_pdf = squeezed(pdf_text(html_to_pdf(spec.pdf_html(police))))
    assert POLICE_SECTION in police_pdf and squeezed(SECRET) in police_pdf
    assert looked_at(html_to_pdf(spec.pdf_html(police)), "changzhou-school-form-police") > 0.01

    assert SECRET not in render_json(spec.build(education)).decode()
    assert "CZ-REPORT-5521" not in squeezed(pdf_text(html_to_pdf(spec.pdf_html(education))))


def test_the_school_form_needs_a_visible_form_of_the_campaign(world: World, user: Client, form: str) -> None:
    refused(user("hm_principal").get(f"{API}reports/changzhou-school-form/"), 400, "invalid_value", "form")
    refused(
        user("ql_principal").get(f"{API}reports/changzhou-school-form/", {"form": form}), 404, "joint_form_not_found"
    )


# --- 附件2 ------------------------------------------------------------------------------------------------

SUMMARY_HEAD = ["区域", "属地派出所", "学校名称", "校园周边治安乱点情况", "是否整改", "校园隐患总数", "整改数"]


def test_district_summary_has_a_row_per_school_by_station_with_form_and_ledger_figures(
    world: World, user: Client, form: str
) -> None:
    data = json.loads(report(user("tn_inspector"), "changzhou-district-summary", campaign=world.campaign))
    assert (data["attachment"], data["title"]) == ("附件2", "学校及周边安全排查整改情况汇总表（区）")
    (table,) = data["tables"]
    assert table["columns"] == [*SUMMARY_HEAD, "涉校不稳定因素情况（未解决）"]
    assert table["rows"] == [
        ["天宁区", "红梅派出所", "兰陵幼儿园", None, None, 0, 0, None],
        ["天宁区", "红梅派出所", "红梅实验小学", "校门口流动摊贩聚集", "否", 3, 2, "无"],
        ["天宁区", "青龙派出所", "青龙中学", None, None, 2, 0, None],
    ]
    assert table["total"] == ["合计", "", "", "", "", 5, 2, ""]
    assert {h["label"]: h["value"] for h in data["header"]}["填报单位（盖章）"] == "天宁区教育局"


def test_district_summary_pdf_and_xlsx_show_the_rows_the_total_and_slashes(
    world: World, user: Client, form: str
) -> None:
    client = user("tn_inspector")
    content = report(client, "changzhou-district-summary", "pdf", campaign=world.campaign)
    text = pdf_text(content)
    flat = squeezed(text)
    assert "附件2" in text and "学校及周边安全排查整改情况汇总表（区）" in text
    for line in ("填报单位（盖章）：天宁区教育局", "填报人：钱督查", "联系电话：0519-856812", "填报日期："):
        assert line in flat, line
    for column in (*SUMMARY_HEAD, "涉校不稳定因素情况（未解决）"):
        assert squeezed(column) in flat, column
    lines = [line.split() for line in text.splitlines()]
    assert ["天宁区", "红梅派出所", "兰陵幼儿园", "/", "/", "0", "0", "/"] in lines
    assert ["天宁区", "青龙派出所", "青龙中学", "/", "/", "2", "0", "/"] in lines
    assert ["合计", "5", "2"] in lines
    assert "红梅实验小学" in flat and "校门口流动摊贩聚集" in flat
    assert flat.index("兰陵幼儿园") < flat.index("红梅实验小学") < flat.index("青龙中学")
    assert looked_at(content, "changzhou-district-summary") > 0.01

    cells = xlsx_cells(report(client, "changzhou-district-summary", "xlsx", campaign=world.campaign))
    head = next(i for i, row in enumerate(cells) if row[0] == "区域")
    assert cells[head][:7] == SUMMARY_HEAD
    assert cells[head + 1] == ["天宁区", "红梅派出所", "兰陵幼儿园", "/", "/", 0, 0, "/"]
    assert cells[head + 2] == ["天宁区", "红梅派出所", "红梅实验小学", "校门口流动摊贩聚集", "否", 3, 2, "无"]
    assert cells[head + 4][0] == "合计" and cells[head + 4][5:7] == [5, 2]


def test_district_summary_counts_hazards_as_known_at_the_moment_asked(
    app: SafetyApplication, world: World, user: Client, hazards: dict[str, Any]
) -> None:
    before = timezone.now()
    app.rectify_hazard(
        hazards["open"], actor=world.actor("hm_staff"), note="已修补", occurred_at=hazards["start"] + timedelta(hours=5)
    )
    catch_up(app)
    client = user("tn_inspector")

    def hongmei(known_at: datetime) -> list[Any]:
        data = json.loads(
            report(client, "changzhou-district-summary", campaign=world.campaign, known_at=known_at.isoformat())
        )
        return next(r for r in data["tables"][0]["rows"] if r[2] == "红梅实验小学")

    assert hongmei(before)[5:7] == [3, 2]  # what was known then stays what the report says
    assert hongmei(timezone.now())[5:7] == [3, 3]
    assert hongmei(hazards["start"] - timedelta(days=1))[5:7] == [0, 0]


def test_district_summary_keeps_to_the_district_and_the_callers_scope(world: World, user: Client, form: str) -> None:
    other = json.loads(
        report(user("tn_inspector"), "changzhou-district-summary", campaign=world.campaign, district="武进区")
    )
    assert other["tables"][0]["rows"] == [] and other["tables"][0]["total"][5:7] == [0, 0]
    own = json.loads(report(user("hm_principal"), "changzhou-district-summary", campaign=world.campaign))
    assert [row[2] for row in own["tables"][0]["rows"]] == ["红梅实验小学"]
    refused(user("tn_inspector").get(f"{API}reports/changzhou-district-summary/"), 400, "invalid_value", "campaign")


@pytest.mark.parametrize("name", ["changzhou-school-form", "changzhou-district-summary"])
def test_the_same_request_twice_gives_the_same_outputs(world: World, user: Client, form: str, name: str) -> None:
    client = user("tn_inspector")
    params = form_params(world, form) if name == "changzhou-school-form" else {"campaign": world.campaign}
    moment = timezone.now().isoformat()
    params.update(at=moment, known_at=moment)  # the same two times: the same outputs
    assert report(client, name, "json", **params) == report(client, name, "json", **params)
    assert pdf_text(report(client, name, "pdf", **params)) == pdf_text(report(client, name, "pdf", **params))
    assert xlsx_cells(report(client, name, "xlsx", **params)) == xlsx_cells(report(client, name, "xlsx", **params))
