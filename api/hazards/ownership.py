"""``ownership/``: every hazard open at T with its owner, deadline and overdue flag, as known at R."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from api import twotimes
from api.auth import actor_of
from api.common import CanonicalUUIDFilter, DeclaredQuery, TrueFalseFilter
from api.hazards.serializers import OwnershipItem
from domain.policy import Actor
from projections import scope
from projections.hazard import queries
from projections.hazard.rows import HazardVersion


class OwnershipFilter(django_filters.FilterSet):
    school = CanonicalUUIDFilter()
    campaign = CanonicalUUIDFilter()
    overdue = TrueFalseFilter()

    class Meta:
        model = HazardVersion
        fields = ["school", "campaign", "overdue"]


class Ownership(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = OwnershipItem
    filterset_class = OwnershipFilter

    @extend_schema(parameters=twotimes.parameters(None))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        times = twotimes.from_query(self.request.query_params, as_of_means="known_at")
        return open_hazards(actor_of(self.request), times).values(*ITEM_FIELDS)


ITEM_FIELDS = ("hazard", "number", "school", "owner", "owner_unit", "owner_since", "deadline", "status", "overdue")


def open_hazards(actor: Actor, times: twotimes.TwoTimes) -> QuerySet[HazardVersion]:
    """Every hazard open at ``times.at`` in the actor's scope, as known at ``times.known_at`` (the API's and the
    谁负责 page's one query; ``OwnershipFilter`` narrows it by school, campaign, overdue)."""
    rows = queries.open_at(times.at, times.known_at).order_by("school", "number", "hazard")
    return scope.filter_by_school(rows, actor)
