"""``notifications/``: the notices meant for the caller (to them, their unit, or their role in it), their 签收,
and the receipts of the 督办 and 上报 the caller (or their unit) sent.

Without Kafka the notifications are brought up to date after each command's commit; a read first applies
whatever that missed (a crash between the commit and that pass), so a reader always sees every notice.

签收 (``POST notifications/{id}/acknowledge/``) is idempotent: a second 签收 answers 200 with the same
``acknowledged_at`` and records nothing. A notice not addressed to the caller is 404, as one that does not exist.
The 签收 is an event of the caller's account (``Account.NoticeAcknowledged``, in the hash chain like every event);
the list shows it once the notifications have caught up (they lag the command)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import DeclaredQuery
from api.idempotency import IdempotentCommand
from api.services import execute
from domain.directory.account import NotificationNotFound
from domain.policy import ROLE_LABELS, Actor, Role
from projections.directory import person_names, unit_names
from projections.eventstore import get_application
from projections.notifications import NotificationView, for_actor, receipts, sent_by
from projections.runner import catch_up_notifications


class NotificationOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationView
        fields = ["id", "kind", "title", "message", "hazard", "school", "occurred_at", "acknowledged_at"]


class Notifications(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = NotificationOut

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        catch_up_notifications(get_application())  # nothing to do, in one query each, when up to date
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return for_actor(actor_of(self.request)).order_by("-occurred_at", "-id")


def notice_for(actor: Actor, pk: Any) -> NotificationView:
    """The caller's notice ``pk`` (404 for another's, as for none)."""
    try:
        number = int(pk)
    except (TypeError, ValueError):
        raise NotificationNotFound(id=str(pk)) from None
    catch_up_notifications(get_application())
    notice = for_actor(actor).filter(id=number).first()
    if notice is None:
        raise NotificationNotFound(id=str(pk))
    return notice


def acknowledge(actor: Actor, notice: NotificationView) -> datetime:
    """签收 the notice: when it was signed for (the first 签收's time when signed already)."""
    return execute(
        lambda app: app.acknowledge_notice(actor=actor, hazard=notice.hazard, hazard_version=notice.hazard_version)
    )


class NotificationAcknowledge(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = NotificationOut

    @extend_schema(request=None, responses=NotificationOut, summary="签收提醒（重复签收返回同一签收时间）")
    def post(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        notice = notice_for(actor, pk)
        notice.acknowledged_at = acknowledge(actor, notice)  # type: ignore[attr-defined]
        return Response(NotificationOut(notice).data)


class RecipientOut(serializers.Serializer):  # type: ignore[type-arg]
    recipient = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField()


class SentOut(serializers.Serializer):  # type: ignore[type-arg]
    hazard = serializers.UUIDField()
    kind = serializers.CharField()
    title = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    recipients = RecipientOut(many=True)
    unsigned = serializers.ListField(child=serializers.CharField())


def sent_receipts(actor: Actor) -> list[dict[str, Any]]:
    """The 督办 and 上报 the actor or their unit sent, newest first: each recipient and their 签收 (names, not ids)."""
    catch_up_notifications(get_application())
    rows = list(sent_by(actor).order_by("-occurred_at", "id"))
    signed = receipts(rows)
    units = unit_names({r.recipient_unit for r in rows if r.recipient_unit})
    people = person_names({r.recipient_user for r in rows} | {a.username for a in signed.values() if a})
    found: dict[tuple[Any, int], dict[str, Any]] = {}
    for row in rows:
        item = found.setdefault(
            (row.hazard, row.hazard_version),
            {
                "hazard": row.hazard,
                "kind": row.kind,
                "title": row.title,
                "occurred_at": row.occurred_at,
                "recipients": [],
                "unsigned": [],
            },
        )
        if row.recipient_user:
            label = people.get(row.recipient_user, row.recipient_user)
        else:
            role = ROLE_LABELS.get(Role(row.recipient_role), "") if row.recipient_role else ""
            label = f"{units.get(row.recipient_unit, '') if row.recipient_unit else ''}{role}" or "（未知单位）"
        ack = signed[row.id]
        item["recipients"].append(
            {
                "recipient": label,
                "acknowledged_at": ack.acknowledged_at if ack else None,
                "acknowledged_by": people.get(ack.username, ack.username) if ack else "",
            }
        )
        if ack is None:
            item["unsigned"].append(label)
    return list(found.values())


class NotificationsSent(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = SentOut
    pagination_class = None

    @extend_schema(responses=SentOut(many=True), summary="本人或本单位发出的督办、上报及各接收方签收情况")
    def get(self, request: Request) -> Response:
        return Response(SentOut(sent_receipts(actor_of(request)), many=True).data)
