"""``notifications/``: the notices meant for the caller (to them, their unit, or their role in it).

Without Kafka the notifications are brought up to date after each command's commit; a read first applies
whatever that missed (a crash between the commit and that pass), so a reader always sees every notice."""

from __future__ import annotations

from typing import Any

from rest_framework import generics, serializers

from api.auth import actor_of
from api.common import DeclaredQuery
from projections.eventstore import get_application
from projections.notifications import NotificationView, for_actor
from projections.runner import catch_up_notifications


class NotificationOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = NotificationView
        fields = ["id", "kind", "title", "message", "hazard", "school", "occurred_at"]


class Notifications(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = NotificationOut

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        catch_up_notifications(get_application())  # nothing to do, in one query each, when up to date
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return for_actor(actor_of(self.request)).order_by("-occurred_at", "-id")
