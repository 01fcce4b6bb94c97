"""Joint form (常州 附件1) endpoints: open, read, PATCH one party's fields, sign, submit, history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.attachments import refs_json
from api.auth import actor_of
from api.common import CanonicalUUID, CommandInput, DeclaredQuery, Moment, parse_uuid, validated
from api.idempotency import IdempotentCommand
from api.jointforms.serializers import JointFormHistoryItem, JointFormOutput, JointFormPatch, JointFormPatchMeta
from api.jointforms.service import cutoff_counts, form_json, form_names, submit_form, visible_form
from api.policeaccess import record_read
from api.reports.submissions import receipts
from api.services import attached_by_key, execute
from domain.errors import InvalidValue, JointFormNotFound, OutOfScope
from domain.eventinfo import event_data, event_type, plain
from domain.jointform.police import POLICE_ONLY, PoliceNotes, notes_id
from projections import integrity, scope
from projections.directory import DisplayNames
from projections.eventstore import get_application
from projections.jointforms import JointFormView
from projections.policekey import readable, readable_refs

PATCH_HELP = (
    "只提交本方栏目 {栏目键: 值}，可带 occurred_at、expected_version；另一方的栏目返回 403 field_not_yours。"
    "attachments: {栏目键: [附件id, …]}（先上传到 attachments/）为该栏目此后的全部附件（替换原有附件，[] 清除），"
    "附件变化与栏目值变化一样使已有签字作废；公安专属栏目（sensitive_notes）的附件随专属内容加密记录，"
    "不进入表格的事件、历史和内容哈希，仅公安单位用户可见、可下载"
)
META = ("occurred_at", "expected_version", "attachments")


class OpenInput(serializers.Serializer):  # type: ignore[type-arg]
    campaign = CanonicalUUID()
    school = CanonicalUUID()
    occurred_at = Moment(required=False)


class SignInput(CommandInput):
    content_hash = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="签字时所见内容的 SHA-256")


class JointFormList(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = JointFormOutput

    @extend_schema(responses=JointFormOutput(many=True))
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        forms = scope.filter_by_school(JointFormView.objects.order_by("opened_at", "id"), actor)
        page = self.paginate_queryset(forms)
        names = form_names(page)
        return self.get_paginated_response([form_json(row, actor, names=names) for row in page])

    @extend_schema(request=OpenInput, responses={201: JointFormOutput})
    def post(self, request: Request) -> Response:
        data = validated(OpenInput, request.data)
        actor = actor_of(request)
        if not scope.can_see_school(actor, data["school"]):
            raise OutOfScope(school=str(data["school"]))
        form = execute(lambda app: app.open_joint_form(actor=actor, **data))
        return Response(form_json(JointFormView.objects.get(id=form.id), actor), status=201)


class JointFormDetail(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = JointFormOutput

    def get(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        return Response(form_json(visible_form(actor, parse_uuid(pk, JointFormNotFound)), actor))

    @extend_schema(
        request=JointFormPatch,
        responses=JointFormOutput,
        description=PATCH_HELP,
    )
    def patch(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        row = visible_form(actor, parse_uuid(pk, JointFormNotFound))
        if not isinstance(request.data, dict):
            raise InvalidValue("请求体必须是JSON对象")
        changes = {k: v for k, v in request.data.items() if k not in META}
        meta = validated(JointFormPatchMeta, {k: v for k, v in request.data.items() if k not in changes})
        ids = meta.pop("attachments", None) or {}
        if not changes and not ids:
            raise InvalidValue("没有要修改的栏目")
        execute(
            lambda app: app.update_joint_form(
                row.id, actor=actor, changes=changes, attachments=attached_by_key(actor, ids), **meta
            )
        )
        return Response(form_json(JointFormView.objects.get(id=row.id), actor))


class JointFormSign(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = JointFormOutput

    @extend_schema(
        request=SignInput,
        responses=JointFormOutput,
        description="校长、所长签署当前内容哈希。表格尚有栏目未填写 → 409 form_incomplete，"
        "detail 列出缺项名称，missing 为 [{key, label}]；内容已变化 → 409 stale_hash。",
    )
    def post(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        row = visible_form(actor, parse_uuid(pk, JointFormNotFound))
        data = validated(SignInput, request.data)
        counts = cutoff_counts(row.campaign, row.school)
        execute(lambda app: app.sign_joint_form(row.id, actor=actor, counts=counts, **data))
        return Response(form_json(JointFormView.objects.get(id=row.id), actor))


class JointFormSubmit(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = JointFormOutput

    @extend_schema(
        request=CommandInput,
        responses=JointFormOutput,
        description="双报送：生成一条报送记录（submission），教育副本报教育线、公安副本报公安线；"
        "copies 为回执，副本字节在 submissions/{id}/copies/{line}/ 下载；此后本表的PDF即所报送的教育副本。",
    )
    def post(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        row = visible_form(actor, parse_uuid(pk, JointFormNotFound))
        data = validated(CommandInput, request.data)
        submission = submit_form(request, row, actor, **data)
        body = form_json(JointFormView.objects.get(id=row.id), actor)
        body["copies"] = receipts(submission, actor, request)
        return Response(body)


class JointFormHistory(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = JointFormHistoryItem
    pagination_class = None

    @extend_schema(responses=JointFormHistoryItem(many=True))
    def get(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        row = visible_form(actor, parse_uuid(pk, JointFormNotFound))
        app = get_application()
        if not scope.sees_police_content(actor):
            items = _items(app.events.get(row.id), integrity.hashes_of(row.id), police=False)
            return Response(_with_names(_with_attachments(items, request)))
        # Police users also see the form's police-only stream, opened with the police key, in log order.
        notes = notes_id(row.id)
        items = _items(app.events.get(row.id), integrity.hashes_of(row.id), police=True) + [
            {**item, "stream": "police_notes"}
            for item in _items(app.events.get(notes), integrity.hashes_of(notes), police=True)
            if item["type"] == "recorded"
        ]
        items = _with_attachments(items, request)
        items.sort(key=lambda item: item["recorded_at"])
        police_keys = [{*item["data"].get("changes", {}), *(item["data"].get("attachments") or {})} for item in items]
        if any(POLICE_ONLY & keys for keys in police_keys):
            record_read(actor, via="history", form=row.id, school=row.school)
        return Response(_with_names(items))


def _with_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = DisplayNames().load(people=[item["actor"] for item in items])
    return [{**item, "actor_name": names.person_name(item["actor"])} for item in items]


def _with_attachments(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Each item with the attachments its event recorded, field by field (``field``: the field's key)."""
    groups = [[(key, ref) for key, refs in item.pop("refs").items() for ref in refs] for item in items]
    listed = refs_json([[ref for _, ref in group] for group in groups], request)
    return [
        {**item, "attachments": [{**shown, "field": key} for (key, _), shown in zip(group, refs, strict=True)]}
        for item, group, refs in zip(items, groups, listed, strict=True)
    ]


def _items(events: Iterable[Any], hashes: dict[int, str], *, police: bool) -> list[dict[str, Any]]:
    """History items; for the education side without police-only content (old events carry it in plaintext)."""
    items = []
    for event in events:
        data = event_data(event)
        if "changes" in data:
            shown = {k: v for k, v in data["changes"].items() if k not in POLICE_ONLY}
            if not police and not shown and not data.get("attachments"):
                continue  # a police-only edit is not even hinted at to the education side
            if police:
                shown.update(readable(getattr(event, "form", event.originator_id), event.changes))
            data["changes"] = shown
        refs = getattr(event, "attachments", None) or {}  # a form's FieldsUpdated: field key → refs
        if isinstance(event, PoliceNotes.Event) and "attachments" in data:  # sealed: opened for police users only
            refs = readable_refs(event.form, refs) if police else {}
            data["attachments"] = plain(refs)
        items.append(
            {
                "version": event.originator_version,
                "type": event_type(event),
                "occurred_at": event.occurred_at,
                "recorded_at": event.timestamp,
                "actor": event.actor,
                "data": data,
                "hash": hashes.get(event.originator_version),
                "refs": refs,
            }
        )
    return items
