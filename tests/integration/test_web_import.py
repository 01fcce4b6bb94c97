"""/admin-tools/import/ (issue 17): units and staff from the XLSX template, all or nothing, every error named by
sheet, row and column in Chinese; administrators only."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from api.demo import DEMO_PASSWORD, World
from projections.directory import StaffView, UnitView

PASSWORD = "Chushi-mima-2026"


def _logged_in(username: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=username, password=DEMO_PASSWORD)
    return client


def _errors(page: str) -> list[tuple[str, ...]]:
    """The error table's rows: (sheet, row, column, message)."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    return [
        tuple(re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r))
        for r in rows
        if "<td" in r
    ]


def _workbook(units: list[list[str]], staff: list[list[str]]) -> SimpleUploadedFile:
    """The downloaded template with its example rows replaced by these."""
    template = _logged_in("admin").get("/admin-tools/import/template.xlsx")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.content))
    for name, rows in (("单位", units), ("人员", staff)):
        sheet = book[name]
        sheet.delete_rows(2, sheet.max_row)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile("导入.xlsx", out.getvalue())


GOOD_UNITS = [
    ["东湖派出所", "派出所", "天宁区", "", "", "", "", ""],
    ["东湖小学", "学校", "天宁区", "天宁区教育局", "东湖派出所", "小学", "否", "DH01"],
    ["西湖中学", "学校", "天宁区", "天宁区教育局", "红梅派出所", "初中", "是", ""],
]
GOOD_STAFF = [
    ["dh_principal", "刘校长", "13800000000", "东湖小学", "校长", PASSWORD],
    ["dh_staff", "张安全", "", "东湖小学", "学校工作人员", PASSWORD],
    ["dh_officer", "马民警", "", "东湖派出所", "派出所民警", PASSWORD],
    ["xh_staff", "丁老师", "", "西湖中学", "学校工作人员", PASSWORD],
]


@pytest.mark.django_db
def test_the_template_is_downloadable_and_in_chinese(world: World) -> None:
    answer = _logged_in("admin").get("/admin-tools/import/template.xlsx")
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["单位", "人员", "填写说明"]
    assert [c.value for c in book["人员"][1]] == ["用户名*", "姓名*", "手机", "所在单位", "角色*", "初始密码*"]
    page = _logged_in("admin").get("/admin-tools/import/").content.decode()
    assert "下载导入模板" in page and 'for="import-file"' in page


@pytest.mark.django_db
def test_a_good_file_imports_every_unit_and_person(world: World) -> None:
    units, people = UnitView.objects.count(), StaffView.objects.count()
    client = _logged_in("admin")
    done = client.post("/admin-tools/import/", {"file": _workbook(GOOD_UNITS, GOOD_STAFF)})
    assert done.status_code == 302, done.content.decode()
    assert "导入成功：3 个单位、4 名人员。" in client.get("/admin-tools/import/").content.decode()
    assert UnitView.objects.count() == units + 3 and StaffView.objects.count() == people + 4
    school = UnitView.objects.get(name="东湖小学")
    assert school.code == "DH01" and school.police_station == UnitView.objects.get(name="东湖派出所").id
    assert UnitView.objects.get(name="西湖中学").boarding
    assert StaffView.objects.get(username="dh_principal").display_name == "刘校长"
    assert Client().login(username="dh_staff", password=PASSWORD)  # the logins work


@pytest.mark.django_db
def test_a_file_with_two_bad_rows_imports_nothing_and_names_both(world: World) -> None:
    units, people, logins = UnitView.objects.count(), StaffView.objects.count(), get_user_model().objects.count()
    bad_units = [*GOOD_UNITS[:2], ["南湖小学", "学校", "天宁区", "天宁区教育局", "", "小学", "否", ""]]  # no station
    bad_staff = [*GOOD_STAFF[:2], ["hm_staff", "重名", "", "东湖小学", "校长", PASSWORD], GOOD_STAFF[2]]
    answer = _logged_in("admin").post("/admin-tools/import/", {"file": _workbook(bad_units, bad_staff)})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "发现 2 处错误，未导入任何数据" in page
    assert _errors(page) == [
        ("单位", "第 4 行", "属地派出所", "学校必须指定属地派出所"),
        ("人员", "第 4 行", "用户名", "用户名“hm_staff”已存在"),
    ]
    assert UnitView.objects.count() == units and StaffView.objects.count() == people
    assert get_user_model().objects.count() == logins  # not even the good rows' logins
    assert not UnitView.objects.filter(name="东湖小学").exists()


@pytest.mark.django_db
def test_input_errors_are_shown_by_column(world: World) -> None:
    units = [["北湖小学", "小学校", "天宁区", "", "没有这个所", "", "也许", ""]]
    staff = [["bh", "", "", "北湖小学", "老师", "123"]]
    page = _logged_in("admin").post("/admin-tools/import/", {"file": _workbook(units, staff)}).content.decode()
    found = {error[:3]: error[3] for error in _errors(page)}
    assert found[("单位", "第 2 行", "属地派出所")] == "找不到单位“没有这个所”"
    assert found[("人员", "第 2 行", "姓名")] == "必填"
    assert "类型须为" in found[("单位", "第 2 行", "类型")]
    assert found[("单位", "第 2 行", "是否寄宿")] == "是否寄宿须填“是”或“否”"
    assert "角色须为" in found[("人员", "第 2 行", "角色")]
    assert "This field" not in page


@pytest.mark.django_db
def test_a_weak_password_is_refused_in_chinese(world: World) -> None:
    staff = [["weak_one", "弱密码", "", "红梅实验小学", "学校工作人员", "abc"]]
    page = _logged_in("admin").post("/admin-tools/import/", {"file": _workbook([], staff)}).content.decode()
    assert "初始密码" in page and ("至少" in page or "8" in page)
    assert not get_user_model().objects.filter(username="weak_one").exists()


@pytest.mark.django_db
def test_not_a_workbook(world: World) -> None:
    bad = SimpleUploadedFile("x.xlsx", b"not a workbook")
    answer = _logged_in("admin").post("/admin-tools/import/", {"file": bad})
    assert answer.status_code == 400 and "无法读取该文件" in answer.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["hm_principal", "tn_leader", "auditor"])
def test_only_administrators_import(world: World, username: str) -> None:
    client = _logged_in(username)
    assert client.get("/admin-tools/import/").status_code == 403
    assert client.get("/admin-tools/import/template.xlsx").status_code == 403
    units = UnitView.objects.count()
    refused = client.post("/admin-tools/import/", {"file": _workbook(GOOD_UNITS, [])})
    assert refused.status_code == 403 and UnitView.objects.count() == units


@pytest.mark.django_db
def test_anonymous_goes_to_the_login_page(world: World) -> None:
    answer = Client().get("/admin-tools/import/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
