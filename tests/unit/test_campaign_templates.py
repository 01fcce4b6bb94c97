"""Campaign templates: structure, and every checklist title traced back to its seed notice."""

import dataclasses
import re
from pathlib import Path

import pytest

from domain.campaign.templates import (
    TEMPLATES,
    CampaignTemplate,
    ChecklistItem,
    find_item,
    get_template,
)

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"

KEYS = ("suzhou", "qingpu", "changzhou", "nanyang", "yanzhou")
PREFIXES = {"suzhou": "SZ", "qingpu": "QP", "changzhou": "CZ", "nanyang": "NY", "yanzhou": "YZ"}
PLACES = {"suzhou": "苏州", "qingpu": "青浦", "changzhou": "常州", "nanyang": "南阳", "yanzhou": "兖州"}
NANYANG_EXTRACTED = 17  # 3 + 2 + 3 + 3 numbered 要点 under 一…四, plus sections 五…十
PHASE_KINDS = {"self_check", "onsite", "supervision"}
CJK = re.compile(r"[\u4e00-\u9fff]")
MM_DD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def _normalise(text: str) -> str:
    return "".join(text.split())


def _seed_text(template: CampaignTemplate) -> str:
    return _normalise((SEEDS / template.source).read_text(encoding="utf-8"))


def _all_items() -> list[tuple[CampaignTemplate, ChecklistItem]]:
    return [(template, item) for template in TEMPLATES for item in template.items]


def _item_id(pair: tuple[CampaignTemplate, ChecklistItem]) -> str:
    return pair[1].code


def test_all_five_templates_exist_with_their_keys() -> None:
    assert tuple(template.key for template in TEMPLATES) == KEYS
    for key in KEYS:
        assert get_template(key).key == key


def test_item_counts() -> None:
    assert len(get_template("suzhou").items) == 10
    assert len(get_template("qingpu").items) == 12
    assert len(get_template("yanzhou").items) == 7
    assert len(get_template("changzhou").items) >= 10
    assert len(get_template("nanyang").items) >= NANYANG_EXTRACTED


@pytest.mark.parametrize("key", KEYS)
def test_codes_unique_and_ordered(key: str) -> None:
    template = get_template(key)
    codes = [item.code for item in template.items]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)
    for code in codes:
        assert re.fullmatch(rf"{PREFIXES[key]}-\d{{2}}", code), code


@pytest.mark.parametrize("key", KEYS)
def test_titles_and_categories_are_chinese(key: str) -> None:
    template = get_template(key)
    assert CJK.search(template.title)
    assert PLACES[key] in template.title
    assert CJK.search(template.issuer)
    for item in template.items:
        assert item.title.strip() and CJK.search(item.title), item.code
        assert item.category.strip() and CJK.search(item.category), item.code
        assert len(item.category) <= 10, item.code  # a short label, not a sentence


@pytest.mark.parametrize("key", KEYS)
def test_metadata_shapes(key: str) -> None:
    template = get_template(key)
    assert (SEEDS / template.source).is_file()
    for value in (template.statistics_cutoff, template.report_deadline):
        assert value == "" or MM_DD.match(value)
    for phase in template.phases:
        assert phase.kind in PHASE_KINDS
        assert CJK.search(phase.label)
        assert _normalise(phase.label) in _seed_text(template)
        for value in (phase.start, phase.end):
            assert value == "" or MM_DD.match(value)
    for recipient in template.recipients:
        assert _normalise(recipient) in _seed_text(template)
    if template.document_no:
        assert _normalise(template.document_no) in _seed_text(template)


def test_changzhou_specifics() -> None:
    changzhou = get_template("changzhou")
    assert "常州" in changzhou.title
    assert changzhou.statistics_cutoff == "07-31"
    assert changzhou.report_deadline == "08-07"
    assert set(changzhou.recipients) == {"市教育局", "市公安局"}
    assert "逐校检查人防、物防、技防建设情况" in changzhou.items[0].title


def test_suzhou_specifics() -> None:
    suzhou = get_template("suzhou")
    assert suzhou.document_no == "苏教安〔2021〕9号"
    assert suzhou.issuer == "苏州市教育局"
    assert suzhou.report_deadline == "11-09"
    assert [(p.kind, p.label, p.start, p.end) for p in suzhou.phases] == [
        ("self_check", "自查自纠", "10-20", "10-28"),
        ("onsite", "现场指导", "10-29", "11-08"),
    ]
    assert find_item(suzhou, "SZ-01") is not None
    assert find_item(suzhou, "SZ-01").category == "安全责任制"  # type: ignore[union-attr]
    assert find_item(suzhou, "SZ-10").category == "食品安全"  # type: ignore[union-attr]


def test_qingpu_phases() -> None:
    qingpu = get_template("qingpu")
    assert [(p.kind, p.label, p.start, p.end) for p in qingpu.phases] == [
        ("self_check", "学校自查", "", "04-10"),
        ("onsite", "教育局组织全覆盖检查", "04-13", ""),
        ("supervision", "教育局联合区相关部门督查", "", ""),
    ]


def test_nanyang_document_no() -> None:
    assert get_template("nanyang").document_no == "教安〔2021〕61号"


def test_exact_wording_spot_checks() -> None:
    sz07 = get_template("suzhou").items[6]
    assert sz07.title.startswith("是否制定并严格落实专职保安人员24小时值班巡逻保卫制度")
    qp09 = get_template("qingpu").items[8]
    assert qp09.title == "学生欺凌和暴力行为防控。学校要组织开展防校园欺凌专题教育。"
    assert get_template("yanzhou").items[6].title.startswith("切实预防拥挤踩踏事故。")
    assert get_template("nanyang").items[3].title == "持续加强学校“三防”建设"


@pytest.mark.parametrize("pair", _all_items(), ids=_item_id)
def test_every_item_title_occurs_in_its_seed(pair: tuple[CampaignTemplate, ChecklistItem]) -> None:
    template, item = pair
    title = _normalise(item.title)
    assert len(title) >= 8, item.code
    # Stronger than "some 8-character substring": the whole normalised title is verbatim seed text.
    assert title in _seed_text(template), item.code


def test_templates_are_frozen() -> None:
    template = get_template("suzhou")
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.key = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.items[0].title = "x"  # type: ignore[misc]


def test_get_template_unknown_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_template("nowhere")


def test_find_item_unknown_code_returns_none() -> None:
    assert find_item(get_template("yanzhou"), "YZ-99") is None
    assert find_item(get_template("yanzhou"), "SZ-01") is None
