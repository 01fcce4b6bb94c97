"""The action forms of the hazard page: only the commands this user may run on this hazard now, each a small form.

Which commands: ``domain.hazard.probe.permitted`` — the commands' own rules tried on a copy of the hazard — after
the hazard is found in the user's scope as the API finds it. Running one: ``POST /hazards/<id>/do/<command>/`` goes
the API's way (``api.hazards.views.COMMAND_SPECS``): scope (404), the right (403), the input serializer (400), the
photos stored as ``POST attachments/`` stores them, the command in one transaction with them (409). A refusal is
shown in Chinese next to its form and records nothing.

``action_forms(request, hazard_id)`` and ``web/hazard/_actions.html`` (context variable ``actions``) are what the
hazard page includes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from rest_framework import serializers

from api.auth import actor_for
from api.common import validated
from api.hazards.views import COMMAND_SPECS
from api.services import attached, execute
from api.web.capture import PHOTOS, Refused, invalid_input, read_photos, refusal, store_photos
from api.web.page import visitor_label
from api.web.views import WebPage
from domain.errors import DomainError, HazardNotFound
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS, Severity, Status
from domain.hazard.probe import permitted
from domain.policy import BUREAU_KINDS, ROLE_LABELS, Actor, Role
from domain.timerules import business_date
from projections import directory, scope
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger

OWNER = "owner"  # the person picker's value: "<unit id> <username>", split into the serializer's owner/owner_unit


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # text, textarea, date, number, select, checkbox, photos
    required: bool = False
    hint: str = ""
    choices: str = ""  # which picker fills a select: people, bureaus, accepted


@dataclass(frozen=True)
class Action:
    command: str
    label: str
    button: str
    fields: tuple[Field, ...]
    done: str
    danger: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _photos(label: str, hint: str = "") -> Field:
    return Field(PHOTOS, label, "photos", hint=hint)


ACTIONS: tuple[Action, ...] = (
    Action(
        "assign",
        "分派整改责任人",
        "分派",
        (
            Field(OWNER, "整改责任人", "select", True, choices="people"),
            Field("deadline", "整改时限", "date", True, "当日24:00截止"),
            Field("standard", "整改标准", "textarea"),
        ),
        "已分派整改责任人。",
    ),
    Action(
        "plan",
        "整改方案（五落实）",
        "保存整改方案",
        (
            Field("measures", "整改措施", "textarea", True),
            Field("funds", "资金落实", "text"),
            Field("deadline", "完成时间", "date", True),
            Field("contingency", "预案", "textarea"),
            Field("beyond_capacity", "学校无力整改，需上级协调", "checkbox"),
        ),
        "已录入整改方案。",
    ),
    Action(
        "interim-measures",
        "临时安全防范措施",
        "保存临时措施",
        (Field("measures", "临时安全防范措施", "textarea", True), _photos("现场照片")),
        "已录入临时安全防范措施。",
    ),
    Action(
        "progress",
        "报告整改进度",
        "报告进度",
        (
            Field("percent", "完成进度（%）", "number", True),
            Field("note", "进度说明", "textarea"),
            _photos("进度照片"),
        ),
        "已报告整改进度。",
    ),
    Action(
        "rectify",
        "登记整改完成",
        "登记整改完成",
        (
            Field("note", "整改情况", "textarea", True),
            _photos("整改后照片", "须至少一张，可直接拍照"),
        ),
        "已登记整改完成，等待验收。",
    ),
    Action(
        "verify",
        "验收",
        "提交验收结论",
        (
            Field("accepted", "验收结论", "select", True, choices="accepted"),
            Field("note", "验收意见", "textarea", hint="不通过时必须说明原因"),
            _photos("验收照片"),
        ),
        "已提交验收结论。",
    ),
    Action(
        "transfer",
        "移交整改责任",
        "移交",
        (
            Field(OWNER, "新的整改责任人", "select", True, choices="people"),
            Field("reason", "移交原因", "textarea", True),
        ),
        "已移交整改责任。",
    ),
    Action(
        "extend",
        "延长整改时限",
        "延期",
        (Field("new_deadline", "新的整改时限", "date", True), Field("reason", "延期原因", "textarea", True)),
        "已延长整改时限。",
    ),
    Action(
        "escalate",
        "上报",
        "上报",
        (
            Field("to_unit", "上报单位", "select", True, choices="bureaus"),
            Field("reason", "上报原因", "textarea", True),
        ),
        "已上报。",
    ),
    Action("supervise", "挂牌督办", "挂牌督办", (Field("note", "督办要求", "textarea"),), "已挂牌督办。"),
    Action(
        "reopen",
        "重新打开",
        "重新打开",
        (Field("reason", "重新打开的原因", "textarea", True), _photos("照片")),
        "已重新打开。",
        danger=True,
    ),
)
BY_COMMAND = {action.command: action for action in ACTIONS}
ACCEPTED_CHOICES = [("true", "通过（销号）"), ("false", "不通过（退回整改）")]


def visible_row(actor: Actor, hazard_id: UUID) -> HazardLedger:
    """The hazard's ledger row in the actor's scope, as the API's ``visible_hazard`` finds it; 404 otherwise."""
    row = scope.filter_by_school(HazardLedger.objects.filter(id=hazard_id), actor).first()
    if row is None:
        raise HazardNotFound(id=str(hazard_id))
    return row


def action_forms(request: HttpRequest, hazard_id: UUID) -> list[dict[str, Any]]:
    """The forms of the actions the request's user may take on the hazard now (empty when out of their scope)."""
    actor = actor_for(request.user)  # type: ignore[arg-type]
    try:
        row = visible_row(actor, hazard_id)
    except HazardNotFound:
        return []
    return build_forms(actor, row)


def build_forms(
    actor: Actor, row: HazardLedger, failed: str = "", posted: Mapping[str, Any] | None = None, error: str = ""
) -> list[dict[str, Any]]:
    hazard = get_application().get_hazard(row.id)
    now = timezone.now()
    allowed = permitted(hazard, actor, now)
    pickers = Pickers(actor, row)
    defaults = _defaults(row, now)
    forms = []
    for action in ACTIONS:
        if action.command not in allowed:
            continue
        values = posted if action.command == failed and posted is not None else defaults
        forms.append(
            {
                "command": action.command,
                "label": action.label,
                "button": action.button,
                "danger": action.danger,
                "url": f"/hazards/{row.id}/do/{action.command}/",
                "version": hazard.version,  # expected_version: a second send of the form is refused, not repeated
                "multipart": any(f.kind == "photos" for f in action.fields),
                "error": error if action.command == failed else "",
                "fields": [_field(action, f, values, pickers) for f in action.fields],
            }
        )
    return forms


def _defaults(row: HazardLedger, now: Any) -> dict[str, str]:
    today = business_date(now)
    later = max(today, row.deadline) if row.deadline else today
    return {
        "deadline": (today + timedelta(days=7)).isoformat(),
        "new_deadline": (later + timedelta(days=7)).isoformat(),
        "percent": str(row.progress or 0),
        "accepted": "true",
    }


def _field(action: Action, spec: Field, values: Mapping[str, Any], pickers: Pickers) -> dict[str, Any]:
    value = values.get(spec.name, "")
    return {
        "name": spec.name,
        "id": f"a-{action.command}-{spec.name}",
        "label": spec.label,
        "kind": spec.kind,
        "required": spec.required,
        "hint": spec.hint,
        "value": "" if spec.kind == "photos" else str(value),
        "choices": pickers.choices(spec.choices) if spec.kind == "select" else [],
    }


class Pickers:
    """Names to pick from, never ids on screen: people (their unit and role beside them), bureaus to report to."""

    def __init__(self, actor: Actor, row: HazardLedger) -> None:
        self.actor, self.row = actor, row

    def choices(self, kind: str) -> list[tuple[str, str]]:
        if kind == "people":
            return [("", "请选择"), *self.people()]
        if kind == "bureaus":
            return [("", "请选择"), *self.bureaus()]
        return ACCEPTED_CHOICES

    def people(self) -> list[tuple[str, str]]:
        """Staff holding a role now in the hazard's school, its station, or the actor's own unit — those in scope."""
        wanted = {self.row.school, self.row.police_station, self.actor.unit} - {None}
        units = list(scope.units(self.actor).filter(id__in=wanted).order_by("kind", "name"))
        now = timezone.now()
        options = []
        for unit in units:
            for person in directory.staff_at(unit.id, now):
                if person["role"] in (Role.AUDITOR.value, Role.ADMIN.value):
                    continue
                role = ROLE_LABELS.get(Role(str(person["role"])), "")
                label = f"{person['display_name'] or person['username']}（{unit.name}·{role}）"
                options.append((f"{unit.id} {person['username']}", label))
        return options

    def bureaus(self) -> list[tuple[str, str]]:
        rows = scope.units(self.actor).filter(kind__in=BUREAU_KINDS).order_by("kind", "name")
        return [(str(u.id), u.name) for u in rows]


def command_input(action: Action, posted: Mapping[str, Any]) -> dict[str, Any]:
    """The posted form as the command's serializer input: its field names, the person picker split into
    ``owner`` and ``owner_unit``, a checkbox as true/false."""
    data: dict[str, Any] = {}
    if posted.get("expected_version"):
        data["expected_version"] = posted["expected_version"]
    for spec in action.fields:
        if spec.kind == "photos":
            continue
        raw = posted.get(spec.name, "")
        if spec.name == OWNER:
            unit, _, username = str(raw).partition(" ")
            data["owner"], data["owner_unit"] = username, unit
        elif spec.kind == "checkbox":
            data[spec.name] = raw == "true"
        else:
            data[spec.name] = raw
    return data


FIELD_LABELS = {f.name: f.label for a in ACTIONS for f in a.fields} | {
    "owner": "整改责任人",
    "owner_unit": "责任单位",
    "attachments": "照片",
    "expected_version": "版本",
    "non_field_errors": "",
}


class HazardAction(WebPage):
    """``/hazards/<id>/do/<command>/``: GET shows that one form (when the user may take it now), POST runs it."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except HazardNotFound as error:
            return render(request, "web/refused.html", {"message": error.detail}, status=404)

    def get(self, request: HttpRequest, pk: UUID, command: str) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row, action = self.target(actor, pk, command)
        forms = [f for f in build_forms(actor, row) if f["command"] == command]
        if not forms:
            message = f"您现在不能对该隐患执行“{action.label}”。"
            return self.page(request, actor, row, forms, status=403, message=message)
        return self.page(request, actor, row, forms)

    def post(self, request: HttpRequest, pk: UUID, command: str) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row, action = self.target(actor, pk, command)
        try:
            self.run(actor, row, action, request)
        except Refused as refused:
            forms = build_forms(actor, row, failed=command, posted=request.POST, error=refused.text)
            if not any(f["command"] == command for f in forms):  # no longer offered: say why above the others
                return self.page(request, actor, row, forms, status=refused.status, message=refused.text)
            return self.page(request, actor, row, forms, status=refused.status)
        messages.success(request, action.done)
        return redirect(f"/hazards/{row.id}/")

    @staticmethod
    def target(actor: Actor, pk: UUID, command: str) -> tuple[HazardLedger, Action]:
        row = visible_row(actor, pk)
        action = BY_COMMAND.get(command)
        if action is None:
            raise HazardNotFound("没有这项操作", command=command)
        return row, action

    @staticmethod
    def run(actor: Actor, row: HazardLedger, action: Action, request: HttpRequest) -> None:
        """As the API's endpoint: the right (403), the input (400), then photos and command in one transaction."""
        spec = COMMAND_SPECS[action.command]
        try:
            spec.check(actor, row.owner)
            data = validated(spec.input_class, command_input(action, request.POST))
        except serializers.ValidationError as error:
            raise invalid_input(error, FIELD_LABELS) from None
        except DomainError as error:
            raise refusal(error) from None
        photos = read_photos(request.FILES.getlist(PHOTOS)) if "attachments" in spec.input_class().fields else []
        try:
            with transaction.atomic():
                if photos:
                    data["attachments"] = store_photos(photos, actor)
                execute(lambda app: spec.command(app, row.id, actor=actor, **attached(actor, data)))
        except DomainError as error:
            raise refusal(error) from None

    @staticmethod
    def page(
        request: HttpRequest,
        actor: Actor,
        row: HazardLedger,
        actions: list[dict[str, Any]],
        status: int = 200,
        message: str = "",
    ) -> HttpResponse:
        """The forms inside a small page naming the hazard (the hazard page includes the same template)."""
        names = directory.DisplayNames().load(units=[row.school, row.owner_unit], people=[row.owner])
        context = {
            "visitor": visitor_label(actor),
            "hazard": {
                "id": row.id,
                "number": row.number,
                "school": names.unit_name(row.school) or "",
                "description": row.description,
                "location": row.location,
                "severity": SEVERITY_LABELS.get(Severity(row.severity), row.severity),
                "status": STATUS_LABELS.get(Status(row.status), row.status),
                "owner": names.person_name(row.owner) or "",
                "owner_unit": names.unit_name(row.owner_unit) or "",
                "deadline": row.deadline,
            },
            "actions": actions,
            "message": message,
        }
        return render(request, "web/hazard/actions_page.html", context, status=status)
