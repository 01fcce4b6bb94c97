"""/admin-tools/import/: units and staff from an XLSX template, for administrators — all or nothing.

The workbook has two sheets, 单位 and 人员 (the template is downloadable from the page). Each row is read into
the API's own input (``UnitInput``, ``UserInput``: the same limits and messages), its unit names resolved to the
units of the directory or of earlier rows of the file, then run through the same directory commands as
``units/`` and ``users/`` (``register_unit``, ``appoint_staff``, with the login created as ``users/`` creates it)
— every row, in one transaction. Each refusal (the input's, the password validators', the domain's) is kept with
its sheet, row number and column; if there is any, the transaction is rolled back and nothing is imported.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from api.auth import actor_for
from api.directory.serializers import UnitInput, UserInput
from api.services import execute
from api.web.account import AccountPage, chinese_message
from api.web.page import visitor_label
from domain.errors import DomainError
from domain.policy import CREATE_USER, REGISTER_UNIT, ROLE_LABELS, UNIT_KIND_LABELS, Actor, Role, UnitKind
from projections.directory import UnitView, code_taken

User = get_user_model()

UNIT_SHEET, STAFF_SHEET = "单位", "人员"
# column header → the API input's field
UNIT_COLUMNS = {
    "单位名称": "name",
    "类型": "kind",
    "所属区域": "district",
    "上级单位": "parent",
    "属地派出所": "police_station",
    "学段": "stage",
    "是否寄宿": "boarding",
    "学校代码": "code",
}
STAFF_COLUMNS = {
    "用户名": "username",
    "姓名": "display_name",
    "手机": "phone",
    "所在单位": "unit",
    "角色": "role",
    "初始密码": "password",
}
REQUIRED = {"单位名称", "类型", "用户名", "姓名", "角色", "初始密码"}
KINDS = {label: kind.value for kind, label in UNIT_KIND_LABELS.items()}
ROLES = {label: role.value for role, label in ROLE_LABELS.items() if role is not Role.SYSTEM}
YES_NO = {"是": True, "否": False, "": False}
EXAMPLE_UNITS = [
    ["东湖派出所", "派出所", "天宁区", "", "", "", "", ""],
    ["东湖小学", "学校", "天宁区", "天宁区教育局", "东湖派出所", "小学", "否", "DH01"],
]
EXAMPLE_STAFF = [
    ["dh_principal", "刘校长", "13800000000", "东湖小学", "校长", "Chushi-2026"],
    ["dh_staff", "张安全", "", "东湖小学", "学校工作人员", "Chushi-2026"],
]
MAX_ROWS = 2000


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int  # as Excel numbers it (the header is row 1)
    column: str
    message: str


@dataclass
class Outcome:
    units: int = 0
    staff: int = 0
    errors: list[RowError] = field(default_factory=list)


class Unreadable(Exception):
    """Not a workbook made from the template."""


class _Rollback(Exception):
    pass


def template() -> bytes:
    """The workbook to fill: both sheets with their headers only (nothing to delete before importing), and a sheet
    of instructions with an example of each."""
    book = Workbook()
    units = book.active
    assert units is not None
    units.title = UNIT_SHEET
    staff = book.create_sheet(STAFF_SHEET)
    notes = book.create_sheet("填写说明")
    for line in (
        "带 * 的列必填。整份文件要么全部导入，要么（有任何一行出错时）一行也不导入，并列出每一处错误。",
        f"单位类型：{'、'.join(KINDS)}。学校必须填写属地派出所；是否寄宿填“是”或“否”。",
        "上级单位、属地派出所、所在单位填单位名称：可以是系统中已有的单位，也可以是本文件中排在前面的行。",
        "学校代码：1至10位字母或数字，区内唯一，作隐患编号前缀；不填则由系统给默认代码。",
        f"角色：{'、'.join(ROLES)}。审计/督导人员、系统管理员可不填所在单位。",
        "初始密码至少 8 位；请通知本人登录后在“我的账户”中修改。",
        "",
    ):
        notes.append([line])
    for sheet, columns, examples in ((units, UNIT_COLUMNS, EXAMPLE_UNITS), (staff, STAFF_COLUMNS, EXAMPLE_STAFF)):
        sheet.append([f"{c}*" if c in REQUIRED else c for c in columns])
        notes.append([f"“{sheet.title}”工作表示例："])
        notes.append(list(columns))
        for row in examples:
            notes.append(row)
        notes.append([])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDE6F2")
        for letter in "ABCDEFGH"[: len(columns)]:
            sheet.column_dimensions[letter].width = 18
    notes.column_dimensions["A"].width = 30
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rows(book: Any, name: str, columns: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each filled row of a sheet as {header: text}, with its Excel row number."""
    if name not in book.sheetnames:
        raise Unreadable(f"缺少工作表“{name}”，请使用下载的模板。")
    sheet: Worksheet = book[name]
    rows = sheet.iter_rows(values_only=True)
    header = [str(c or "").strip().rstrip("*") for c in next(rows, ())]
    missing = [c for c in columns if c not in header]
    if missing:
        raise Unreadable(f"工作表“{name}”缺少列：{'、'.join(missing)}，请使用下载的模板。")
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise Unreadable(f"工作表“{name}”超过 {MAX_ROWS} 行，请分批导入。")
        cells = {h: _text(v) for h, v in zip(header, values, strict=False) if h in columns}
        if any(cells.values()):
            yield number, cells


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number or a code typed as a number
    return str(value).strip()


class Importer:
    """One import: the rows read, checked and run in one transaction; errors kept per row and column."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.outcome = Outcome()
        self.new_units: dict[str, UUID] = {}  # names registered by earlier rows of the file

    def error(self, sheet: str, row: int, column: str, message: str) -> None:
        self.outcome.errors.append(RowError(sheet, row, column, message))

    def run(self, content: bytes) -> Outcome:
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a file that is no workbook
            raise Unreadable("无法读取该文件，请上传由模板填写的 .xlsx 文件。") from None
        units, staff = list(_rows(book, UNIT_SHEET, UNIT_COLUMNS)), list(_rows(book, STAFF_SHEET, STAFF_COLUMNS))
        if not units and not staff:
            raise Unreadable("文件中没有要导入的行。")
        try:
            with transaction.atomic():
                for number, cells in units:
                    self.unit(number, cells)
                for number, cells in staff:
                    self.person(number, cells)
                if self.outcome.errors:
                    raise _Rollback
        except _Rollback:
            self.outcome.units = self.outcome.staff = 0
        return self.outcome

    def unit_id(self, sheet: str, row: int, column: str, name: str) -> UUID | None | bool:
        """The unit of that name (of the file's earlier rows, else of the directory); False when none or several."""
        if not name:
            return None
        if name in self.new_units:
            return self.new_units[name]
        found = list(UnitView.objects.filter(name=name).values_list("id", flat=True)[:2])
        if len(found) == 1:
            return found[0]
        self.error(sheet, row, column, f"单位“{name}”不唯一，请在系统中核对" if found else f"找不到单位“{name}”")
        return False

    def unit(self, row: int, cells: dict[str, str]) -> None:
        data: dict[str, Any] = {UNIT_COLUMNS[c]: v for c, v in cells.items() if c not in ("上级单位", "属地派出所")}
        ok = self.required(UNIT_SHEET, row, cells, ("单位名称", "类型"))
        kind = cells.get("类型", "")
        if kind:
            if kind not in KINDS:
                ok = False
                self.error(UNIT_SHEET, row, "类型", f"单位类型须为{'、'.join(KINDS)}之一")
            data["kind"] = KINDS.get(kind, kind)
        boarding = cells.get("是否寄宿", "")
        if boarding not in YES_NO:
            ok = False
            self.error(UNIT_SHEET, row, "是否寄宿", "是否寄宿须填“是”或“否”")
        data["boarding"] = YES_NO.get(boarding, False)
        for column in ("上级单位", "属地派出所"):
            unit = self.unit_id(UNIT_SHEET, row, column, cells.get(column, ""))
            ok = ok and unit is not False
            data[UNIT_COLUMNS[column]] = str(unit) if isinstance(unit, UUID) else None
        if cells.get("单位名称") in self.new_units:
            ok = False
            self.error(UNIT_SHEET, row, "单位名称", "与本文件前面的行重名")
        if not ok:
            return
        form = UnitInput(data=data)
        if not form.is_valid():
            self.input_errors(UNIT_SHEET, row, UNIT_COLUMNS, form.errors)
            return
        valid = dict(form.validated_data)
        kind_value = UnitKind(valid.pop("kind"))
        try:
            with transaction.atomic():
                unit = execute(
                    lambda app: app.register_unit(actor=self.actor, kind=kind_value, code_in_use=code_taken, **valid)
                )
        except DomainError as refused:
            self.refused(UNIT_SHEET, row, UNIT_COLUMNS, refused)
            return
        self.new_units[valid["name"]] = unit.id
        self.outcome.units += 1

    def person(self, row: int, cells: dict[str, str]) -> None:
        data: dict[str, Any] = {STAFF_COLUMNS[c]: v for c, v in cells.items() if c != "所在单位"}
        ok = self.required(STAFF_SHEET, row, cells, ("用户名", "姓名", "角色", "初始密码"))
        role = cells.get("角色", "")
        if role:
            if role not in ROLES:
                ok = False
                self.error(STAFF_SHEET, row, "角色", f"角色须为{'、'.join(ROLES)}之一")
            data["role"] = ROLES.get(role, role)
        unit = self.unit_id(STAFF_SHEET, row, "所在单位", cells.get("所在单位", ""))
        ok = ok and unit is not False
        data["unit"] = str(unit) if isinstance(unit, UUID) else None
        username = cells.get("用户名", "")
        if username and User.objects.filter(username=username).exists():
            ok = False
            self.error(STAFF_SHEET, row, "用户名", f"用户名“{username}”已存在")
        if not ok:
            return
        form = UserInput(data=data)
        if not form.is_valid():
            self.input_errors(STAFF_SHEET, row, STAFF_COLUMNS, form.errors)
            return
        valid = dict(form.validated_data)
        password = valid.pop("password")
        try:
            password_validation.validate_password(password, User(username=valid["username"]))
        except ValidationError as weak:
            for problem in weak.error_list:
                self.error(STAFF_SHEET, row, "初始密码", chinese_message(problem))
            return
        role_value = Role(valid.pop("role"))
        try:
            with transaction.atomic():  # the login and the appointment, together or not at all
                User.objects.create_user(username=valid["username"], password=password)
                execute(lambda app: app.appoint_staff(actor=self.actor, role=role_value, **valid))
        except DomainError as refused:
            self.refused(STAFF_SHEET, row, STAFF_COLUMNS, refused)
            return
        self.outcome.staff += 1

    def required(self, sheet: str, row: int, cells: dict[str, str], columns: tuple[str, ...]) -> bool:
        missing = [c for c in columns if not cells.get(c)]
        for column in missing:
            self.error(sheet, row, column, "必填")
        return not missing

    def input_errors(self, sheet: str, row: int, columns: dict[str, str], errors: dict[str, Any]) -> None:
        by_field = {f: c for c, f in columns.items()}
        for name, problems in errors.items():
            for problem in problems:
                self.error(sheet, row, by_field.get(name, name), str(problem))

    def refused(self, sheet: str, row: int, columns: dict[str, str], refused: DomainError) -> None:
        by_field = {f: c for c, f in columns.items()}
        column = by_field.get(str(refused.context.get("field", "")), "")
        self.error(sheet, row, column, refused.detail)


class Import(AccountPage):
    """The upload page (administrators only: the rights of ``units/`` and ``users/``)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.admin(request)
        return render(request, "web/account/import.html", {"visitor": visitor_label(actor)})

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = self.admin(request)
        upload = request.FILES.get("file")
        context: dict[str, Any] = {"visitor": visitor_label(actor)}
        if upload is None:
            context["problem"] = "请选择要导入的 .xlsx 文件。"
            return render(request, "web/account/import.html", context, status=400)
        try:
            outcome = Importer(actor).run(upload.read())
        except Unreadable as unreadable:
            context["problem"] = str(unreadable)
            return render(request, "web/account/import.html", context, status=400)
        if outcome.errors:
            context["errors"] = outcome.errors
            return render(request, "web/account/import.html", context, status=400)
        messages.success(request, f"导入成功：{outcome.units} 个单位、{outcome.staff} 名人员。")
        return redirect("web:admin-import")

    @staticmethod
    def admin(request: HttpRequest) -> Actor:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        REGISTER_UNIT.check(actor)
        CREATE_USER.check(actor)
        return actor


class ImportTemplate(AccountPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        Import.admin(request)
        response = HttpResponse(
            template(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = content_disposition_header(True, "单位及人员导入模板.xlsx")
        return response
