"""``notifications/``: the notices meant for the caller (to them, their unit, or their role in it)."""

from __future__ import annotations

from typing import Any

from rest_framework import generics, serializers

from api.auth import actor_of
from api.common import DeclaredQuery
from projections.notifications import NotificationView, for_actor


class NotificationOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = NotificationView
        fields = ["id", "kind", "title", "message", "hazard", "school", "occurred_at"]


class Notifications(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = NotificationOut

    def get_queryset(self) -> Any:
        return for_actor(actor_of(self.request)).order_by("-occurred_at", "-id")
