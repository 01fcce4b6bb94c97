"""苏州 附件1 / 附件2 as the bureau receives them: PDF text and picture, XLSX cells, JSON; stable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from reporthelpers import ink_ratio, page_png, pdf_text, xlsx_rows

from domain.application import SafetyApplication
from projections.campaigns import CampaignView

from apihelpers import API, refused

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
Client = Any


@pytest.fixture
def inspector(app: SafetyApplication, client_for: Client) -> Any:
    call_command("load_demo")
    return client_for("tn_inspector")


def fetch(client: Any, name: str, fmt: str, **params: str) -> bytes:
    campaign = str(CampaignView.objects.get().id)
    response = client.get(f"{API}reports/{name}/", {"campaign": campaign, "format": fmt, **params})
    assert response.status_code == 200, response.content[:300]
    return bytes(response.content)


def test_the_summary_reads_like_the_seed_attachment(inspector: Any) -> None:
    pdf = fetch(inspector, "suzhou-summary", "pdf")
    text = pdf_text(pdf)
    for expected in (
        "附件1",
        "中小学课后服务期间校园安全防范工作排查情况汇总表",
        "填报单位（盖章）：天宁区教育局",
        "填报人：钱督查",
        "联系电话：",
        "填报日期：",
        "督查检查次数",
        "排查学校个数",
        "合计",
        "注:督查检查次数统计口径",
    ):
        assert expected in text.replace(" ", "").replace("\u3000", "") or expected in text, expected
    assert ink_ratio(page_png(pdf, keep_as=ARTIFACTS / "suzhou-summary.png")) > 0.01

    data = json.loads(fetch(inspector, "suzhou-summary", "json"))
    (table,) = data["tables"]
    leader, joint = table["rows"]
    assert leader[:3] == ["有本地教育行政部门班子成员及以上领导参与的督查检查", 1, 1]
    assert joint[:3] == ["多部门组成的联合检查组开展的督查检查", 1, 1]
    assert table["total"] == ["合计", 2, 1, 2, 0, 2]  # one school; the 合计 counts each inspection once

    rows = xlsx_rows(fetch(inspector, "suzhou-summary", "xlsx"))
    assert ("合计", 2, 1, 2, 0, 2) in rows


def test_the_hazard_list_holds_only_what_was_still_open_a_week_before_the_deadline(inspector: Any) -> None:
    data = json.loads(fetch(inspector, "suzhou-hazard-list", "json"))
    (table,) = data["tables"]
    assert table["columns"] == ["序号", "问题表现", "责任单位", "整改标准", "整改时限", "整改进度"]
    described = [row[1] for row in table["rows"]]
    assert [row[0] for row in table["rows"]] == list(range(1, len(described) + 1))
    assert "校门口缺少硬质防冲撞设施（升降柱）" in described
    assert "视频监控保存天数不足30天" not in described  # closed (销号)
    assert "实验室危险化学品未双人双锁管理" not in described  # rectified, awaiting 验收
    assert "消防通道堆放杂物" not in described  # 立行立改
    by_description = {row[1]: row for row in table["rows"]}
    assert by_description["学校假期值班表未张贴，带班领导未明确"][3] is None  # prints "/"

    text = pdf_text(fetch(inspector, "suzhou-hazard-list", "pdf"))
    assert "排查问题隐患清单" in text and "校门口缺少硬质防冲撞设施" in text and "40%：已完成采购" in text
    assert "注：问题隐患为在上报截止日期前一周仍未完成整改的问题隐患" in text
    cells = xlsx_rows(fetch(inspector, "suzhou-hazard-list", "xlsx"))
    assert any(row[:2] == (1, described[0]) for row in cells)


@pytest.mark.parametrize("name", ["suzhou-summary", "suzhou-hazard-list"])
def test_the_same_request_gives_the_same_document(inspector: Any, name: str) -> None:
    moment = timezone.now().isoformat()
    times = {"at": moment, "known_at": moment}  # the same two times: the same document
    assert fetch(inspector, name, "json", **times) == fetch(inspector, name, "json", **times)
    assert pdf_text(fetch(inspector, name, "pdf", **times)) == pdf_text(fetch(inspector, name, "pdf", **times))
    assert xlsx_rows(fetch(inspector, name, "xlsx", **times)) == xlsx_rows(fetch(inspector, name, "xlsx", **times))


def test_report_requests_are_checked(inspector: Any, client_for: Client) -> None:
    refused(inspector.get(f"{API}reports/no-such-report/"), 404, "report_not_found")
    refused(inspector.get(f"{API}reports/suzhou-summary/"), 400, "invalid_value", "campaign")
    refused(inspector.get(f"{API}reports/suzhou-summary/", {"campaign": "x"}), 400, "invalid_value", "campaign")
    refused(
        inspector.get(
            f"{API}reports/suzhou-summary/", {"campaign": str(CampaignView.objects.get().id), "format": "docx"}
        ),
        400,
        "invalid_value",
        "format",
    )
    other = client_for("ql_principal")
    hongmei = "红梅实验小学"
    response = other.get(f"{API}reports/suzhou-hazard-list/", {"campaign": str(CampaignView.objects.get().id)})
    assert response.status_code == 200 and hongmei not in response.content.decode()
