"""学校安全隐患台账 over HTTP (隐患清单 / 责任清单 / 整改清单), read from its real outputs, up to 2,000 hazards."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from reporthelpers import pdf_pages, pdf_text
from test_reports_changzhou import looked_at, report, squeezed, xlsx_cells

from api.demo import World, launch_campaign
from domain.application import SafetyApplication
from domain.hazard.aggregate import Hazard, Severity
from domain.timerules import business_date
from projections.runner import catch_up
from reports.base import chinese_date

from apihelpers import API, refused

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo

Client = Any
HAZARD_HEAD = ["序号", "隐患编号", "发现日期", "类别", "隐患描述/问题表现", "位置", "等级", "状态", "照片/附件数"]
DUTY_HEAD = ["序号", "隐患编号", "责任单位", "责任人", "整改时限", "挂牌督办"]
WORK_HEAD = ["序号", "隐患编号", "整改措施", "资金", "预案", "临时防范措施", "进度", "整改完成/销号情况"]


@pytest.fixture
def ledger(app: SafetyApplication, world: World) -> dict[str, Any]:
    """红梅实验小学: a major hazard under 挂牌督办 with its 五落实, one fixed on the spot, one just reported, one
    closed after 验收; 青龙中学 and another campaign each have one that the ledger must leave out."""
    start = timezone.now() - timedelta(days=6)
    school, campaign = world.units["hongmei_school"], world.campaign
    assert campaign is not None
    principal, staff = world.actor("hm_principal"), world.actor("hm_staff")
    step = iter(range(1, 100))

    def at() -> datetime:
        return start + timedelta(hours=next(step))

    def discover(text: str, **extra: Any) -> UUID:
        defaults: dict[str, Any] = {"actor": staff, "campaign": campaign, "school": school, "category": "消防安全"}
        defaults["severity"] = Severity.GENERAL
        return app.discover_hazard(description=text, occurred_at=at(), **(defaults | extra)).id

    due = business_date(start) + timedelta(days=60)
    major = discover("围墙周界无防入侵报警系统", severity=Severity.MAJOR, category="人防物防技防", location="北侧围墙")
    app.record_interim_measures(major, actor=principal, measures="破损处临时围挡，夜间增加巡逻", occurred_at=at())
    app.assign_hazard(major, actor=principal, owner="hm_principal", owner_unit=school, deadline=due, occurred_at=at())
    app.record_plan(
        major,
        actor=principal,
        measures="申请专项资金改造围墙",
        funds="区财政专项 8 万元",
        deadline=due,
        contingency="雨天加强巡逻",
        occurred_at=at(),
    )
    app.supervise_hazard(major, actor=world.actor("tn_leader"), note="区教育局挂牌督办", occurred_at=at())
    app.report_progress(major, actor=principal, note="资金已申请", percent=30, occurred_at=at())
    discover("消防通道堆放杂物", rectified_on_spot=True, location="教学楼一楼")
    discover("假期值班表未张贴")
    closed = discover("监控保存天数不足30天", location="监控室")
    app.assign_hazard(closed, actor=principal, owner="hm_staff", owner_unit=school, deadline=due, occurred_at=at())
    app.rectify_hazard(closed, actor=staff, note="更换硬盘", occurred_at=at())
    catch_up(app)
    before_verified = timezone.now()
    verified_at = at()
    app.verify_hazard(closed, actor=principal, accepted=True, note="验收合格", occurred_at=verified_at)
    discover("宿舍一键报警故障", school=world.units["qinglong_school"], actor=world.actor("ql_staff"))
    other = launch_campaign(app, world, start)
    world.campaign = campaign
    discover("另一专项排查中的隐患", campaign=other)
    catch_up(app)
    return {"before_verified": before_verified, "verified_on": business_date(verified_at), "due": due}


def test_ledger_json_has_the_three_lists_with_the_five_fixes(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    client = user("tn_inspector")
    data = json.loads(report(client, "school-ledger", school=world.units["hongmei_school"], campaign=world.campaign))
    assert data["title"] == "学校安全隐患台账" and data["landscape"] is True
    assert "学校：红梅实验小学" in data["subtitle"]
    header = {h["label"]: h["value"] for h in data["header"]}
    assert header["填报单位（盖章）"] == "天宁区教育局" and header["填报人"] == "钱督查"
    hazards, duties, works = data["tables"]
    assert [t["title"] for t in data["tables"]] == ["一、隐患清单", "二、责任清单", "三、整改清单"]
    assert (hazards["columns"], duties["columns"], works["columns"]) == (HAZARD_HEAD, DUTY_HEAD, WORK_HEAD)
    assert [row[4] for row in hazards["rows"]] == [
        "围墙周界无防入侵报警系统",
        "消防通道堆放杂物",
        "假期值班表未张贴",
        "监控保存天数不足30天",
    ]
    assert [row[0] for row in hazards["rows"]] == [1, 2, 3, 4]
    number = hazards["rows"][0][1]
    assert re.fullmatch(r"HM01-\d{4}-0001", number)  # 红梅实验小学 goes by HM01
    assert hazards["rows"][0][3:] == ["人防物防技防", "围墙周界无防入侵报警系统", "北侧围墙", "重大", "整改中", 0]
    assert [row[6:] for row in hazards["rows"][1:]] == [
        ["一般", "已销号", 0],
        ["一般", "已上报", 0],
        ["一般", "已销号", 0],
    ]
    assert hazards["rows"][2][5] is None  # no location given: "/"

    due = ledger["due"].isoformat()  # JSON: an ISO date; PDF: 2027年1月29日; XLSX: a date cell
    assert duties["rows"] == [
        [1, number, "红梅实验小学", "王校长", due, "是"],
        [2, hazards["rows"][1][1], None, None, None, "否"],
        [3, hazards["rows"][2][1], "待分派", "待分派", "待分派", "否"],
        [4, hazards["rows"][3][1], "红梅实验小学", "李安全", due, "否"],
    ]
    verified = f"已销号（{chinese_date(ledger['verified_on'])}）"
    assert [row[2:] for row in works["rows"]] == [
        [
            "申请专项资金改造围墙",
            "区财政专项 8 万元",
            "雨天加强巡逻",
            "破损处临时围挡，夜间增加巡逻",
            "30%：资金已申请",
            "未完成",
        ],
        [None, None, None, None, "100%", works["rows"][1][7]],
        ["未制定", "未制定", "未制定", None, "未开始", "未完成"],
        [None, None, None, None, "100%", verified],
    ]
    assert works["rows"][1][7].startswith("已销号（")


def test_ledger_shows_each_hazard_as_it_stood_and_was_known_at_the_moment_asked(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    client = user("hm_principal")
    school = world.units["hongmei_school"]
    then = json.loads(report(client, "school-ledger", school=school, known_at=ledger["before_verified"].isoformat()))
    assert then["tables"][0]["rows"][3][7] == "待验收" and then["tables"][2]["rows"][3][7] == "已整改，待验收"
    everything = json.loads(report(client, "school-ledger", school=school, known_at=timezone.now().isoformat()))
    assert len(everything["tables"][0]["rows"]) == 5  # without ?campaign=: the other campaign's hazard too
    assert everything["parameters"]["campaign"] is None


def test_ledger_pdf_and_xlsx_read_like_the_json(world: World, user: Client, ledger: dict[str, Any]) -> None:
    client = user("hm_principal")
    params = {"school": world.units["hongmei_school"], "campaign": world.campaign}
    content = report(client, "school-ledger", "pdf", **params)
    text = pdf_text(content)
    flat = squeezed(text)
    assert "学校安全隐患台账" in text and "学校：红梅实验小学" in flat
    for line in ("填报单位（盖章）：红梅实验小学", "填报人：王校长", "联系电话：0519-856812", "填报日期："):
        assert line in flat, line
    for title in ("一、隐患清单", "二、责任清单", "三、整改清单"):
        assert title in flat
    for column in {*HAZARD_HEAD, *DUTY_HEAD, *WORK_HEAD}:
        assert squeezed(column) in flat, column
    for value in (
        "围墙周界无防入侵报警系统",
        "北侧围墙",
        "重大",
        "王校长",
        "区财政专项",
        "30%：资金已申请",
        "待分派",
    ):
        assert value in flat, value
    assert "/" in text and "预案、措施、责任、资金、时限" in flat
    assert "宿舍一键报警故障" not in flat and "另一专项排查中的隐患" not in flat
    assert looked_at(content, "school-ledger") > 0.01

    cells = xlsx_cells(report(client, "school-ledger", "xlsx", **params))
    heads = [i for i, row in enumerate(cells) if row[:2] == ["序号", "隐患编号"]]
    assert [cells[i][:9] for i in heads] == [HAZARD_HEAD, [*DUTY_HEAD, None, None, None], [*WORK_HEAD, None]]
    assert cells[heads[1] + 1][2:6] == ["红梅实验小学", "王校长", datetime.combine(ledger["due"], time()), "是"]
    assert cells[heads[1] + 2][2:6] == ["/", "/", "/", "否"]
    assert chinese_date(ledger["due"]) in flat


def test_ledger_xlsx_dates_are_date_cells_a_spreadsheet_can_sort(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    """发现时间 and 整改时限 are date cells shown as 2027年1月29日, not text: an official sorts and filters by them."""
    params = {"school": world.units["hongmei_school"], "campaign": world.campaign}
    content = report(user("hm_principal"), "school-ledger", "xlsx", **params)
    sheet = load_workbook(io.BytesIO(content)).active
    due = [c for row in sheet.iter_rows() for c in row if c.value == datetime.combine(ledger["due"], time())]
    assert len(due) == 2 and all(c.is_date and c.number_format == 'yyyy"年"m"月"d"日"' for c in due)
    found = [row[2] for row in sheet.iter_rows() if isinstance(row[0].value, int) and row[2].is_date]
    assert len(found) == 4  # 隐患清单: every hazard's 发现时间


def test_ledger_needs_a_school_in_the_callers_scope(world: World, user: Client) -> None:
    refused(user("tn_inspector").get(f"{API}reports/school-ledger/"), 400, "invalid_value", "school")
    refused(
        user("hm_principal").get(f"{API}reports/school-ledger/", {"school": str(world.units["qinglong_school"])}),
        404,
        "unit_not_found",
    )
    station = {"school": str(world.units["hongmei_station"])}
    refused(user("tn_inspector").get(f"{API}reports/school-ledger/", station), 400, "invalid_value", "school")


def test_the_same_ledger_request_twice_gives_the_same_outputs(
    world: World, user: Client, ledger: dict[str, Any]
) -> None:
    client = user("tn_inspector")
    moment = timezone.now().isoformat()  # the same two times: the same outputs
    params = {"school": world.units["hongmei_school"], "campaign": world.campaign, "at": moment, "known_at": moment}
    assert report(client, "school-ledger", **params) == report(client, "school-ledger", **params)
    assert pdf_text(report(client, "school-ledger", "pdf", **params)) == pdf_text(
        report(client, "school-ledger", "pdf", **params)
    )
    assert xlsx_cells(report(client, "school-ledger", "xlsx", **params)) == xlsx_cells(
        report(client, "school-ledger", "xlsx", **params)
    )


# --- 2,000 hazards at one school -------------------------------------------------------------------------

MANY = 2000


def many_hazards(app: SafetyApplication, world: World) -> None:
    """2,000 hazards through the aggregates' own commands, saved in one go (as benchmarks.generate does)."""
    school, campaign = world.units["hongmei_school"], world.campaign
    assert campaign is not None
    principal, staff = world.actor("hm_principal"), world.actor("hm_staff")
    start = timezone.now() - timedelta(days=3)
    due: date = business_date(start) + timedelta(days=30)
    hazards = []
    for i in range(MANY):
        t = start + timedelta(seconds=i)
        hazard = Hazard.discover(
            campaign=campaign,
            school=school,
            inspection=None,
            item="",
            category=("消防安全", "人防物防技防", "食品安全")[i % 3],
            description=f"批量隐患第{i + 1}号：教学楼消防通道堆放杂物",
            severity=Severity.MAJOR if i % 10 == 0 else Severity.GENERAL,
            location="教学楼",
            rectified_on_spot=i % 4 == 3 and i % 10 != 0,
            actor=staff,
            occurred_at=t,
        )
        if i % 4 in (1, 2):
            hazard.assign(
                owner="hm_staff", owner_unit=school, deadline=due, standard="", actor=principal, occurred_at=t
            )
            hazard.record_plan(
                measures="清理杂物",
                funds="自筹",
                deadline=due,
                contingency="专人值守",
                beyond_capacity=False,
                actor=staff,
                occurred_at=t,
            )
        if i % 4 == 2:
            hazard.rectify(note="已清理", evidence=[], actor=staff, occurred_at=t, photo_required=False)
        hazards.append(hazard)
    app.save(*hazards)
    catch_up(app)


def test_a_ledger_of_two_thousand_hazards_pages_with_its_header_on_every_page(
    app: SafetyApplication, world: World, user: Client, settings: Any
) -> None:
    many_hazards(app, world)
    client = user("hm_principal")
    params = {"school": world.units["hongmei_school"], "campaign": world.campaign}

    data = json.loads(report(client, "school-ledger", **params))
    assert [len(t["rows"]) for t in data["tables"]] == [MANY, MANY, MANY]

    too_large = client.get(f"{API}reports/school-ledger/", {"format": "pdf", **params})
    assert "上限" in refused(too_large, 400, "report_too_large")["detail"]  # 6,000 rows: above the default
    settings.REPORT_MAX_ROWS = {**settings.REPORT_MAX_ROWS, "pdf": 3 * MANY}  # an operator who raised it, and
    settings.REPORT_RENDER_TIMEOUT = 600  # the time limit with it (6,000 rows: 35 s alone, minutes on a busy machine)
    content = report(client, "school-ledger", "pdf", **params)
    pages = pdf_pages(content)
    assert pages > 60
    for page in (2, pages // 2, pages):
        text = squeezed(pdf_text(content, page, page))
        assert "序号隐患编号" in text, page  # the column header, repeated on every page
    assert "隐患描述/问题表现" in squeezed(pdf_text(content, 2, 2))
    assert "整改完成/销号情况" in squeezed(pdf_text(content, pages, pages))
    assert f"批量隐患第{MANY}号" in squeezed(pdf_text(content))
    assert looked_at(content, "school-ledger-2000") > 0.01

    cells = xlsx_cells(report(client, "school-ledger", "xlsx", **params))
    heads = [i for i, row in enumerate(cells) if row[:2] == ["序号", "隐患编号"]]
    hazard_rows = cells[heads[0] + 1 : heads[1]]
    assert sum(isinstance(row[0], int) for row in hazard_rows) == MANY
    assert hazard_rows[MANY - 1][0] == MANY


def test_markup_in_a_hazard_description_is_literal_text_in_the_pdf(world: World, user: Client) -> None:
    markup = '<script>alert(1)</script> & <b>粗体</b>'
    post = user("hm_staff").post(f"{API}hazards/", {
        "campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
        "description": markup, "location": "<i>操场</i>"}, format="json")
    assert post.status_code == 201, post.content.decode()[:300]

    params = {"school": world.units["hongmei_school"], "campaign": world.campaign}
    flat = squeezed(pdf_text(report(user("hm_principal"), "school-ledger", "pdf", **params)))

    assert squeezed(markup) in flat and "<i>操场</i>" in flat
