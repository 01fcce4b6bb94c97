"""``/`` — the visitor's 工作台: what needs them now, their notifications, and the pages of their role.

Every list is read in the visitor's scope (``projections.scope``), the same as the API's ``hazards/``; who may 验收
is the domain's rule (``may_verify``), who signs a joint form the joint form page's (``signing_role``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from api.auth import actor_for
from api.web.nav import links_for
from api.web.page import signing_role, unit_names
from api.web.views import WebPage
from domain.hazard.aggregate import ASSIGNERS, SEVERITY_LABELS, STATUS_LABELS, Severity, Status, may_verify
from domain.hazard.status import OPEN_STATUSES
from domain.policy import STATION_ROLES, Actor
from domain.timerules import business_date
from projections import directory, scope
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger
from projections.jointforms import JointFormView
from projections.notifications import for_actor
from projections.runner import catch_up_notifications

SHOWN = 20  # items per list; the rest are a click away in the 台账
DUE_SOON_DAYS = 7
NOTIFICATIONS_SHOWN = 10
# Roles that answer for every hazard of their scope (they assign, escalate, supervise): their due-soon and overdue
# lists cover the scope; anyone else's cover the hazards they own.
WATCHERS = ASSIGNERS | STATION_ROLES
OPEN = [s.value for s in OPEN_STATUSES]


def hazards_in_scope(actor: Actor) -> Any:
    return scope.filter_by_school(HazardLedger.objects.filter(voided=False), actor)


def hazard_items(rows: Iterable[HazardLedger]) -> list[dict[str, Any]]:
    """Number, description, school and owner by name, deadline (a Beijing date), status, for the list templates."""
    rows = list(rows)
    schools = unit_names(*{r.school for r in rows})
    people = directory.person_names({r.owner for r in rows if r.owner})
    return [
        {
            "id": r.id,
            "number": r.number,
            "description": r.description,
            "school": schools.get(r.school, ""),
            "owner": people.get(r.owner, r.owner) if r.owner else "",
            "deadline": r.deadline,
            "status": STATUS_LABELS.get(Status(r.status), r.status),
            "severity": SEVERITY_LABELS.get(Severity(r.severity), r.severity),
            "major": r.severity == Severity.MAJOR,
            "overdue": r.overdue,
            "supervised": r.supervised,
        }
        for r in rows
    ]


def workbench(actor: Actor) -> dict[str, Any]:
    """The lists of the 工作台 (each at most ``SHOWN`` items, with its full count)."""
    visible = hazards_in_scope(actor)
    watched = visible if actor.role in WATCHERS else visible.filter(owner=actor.username)
    today = business_date(timezone.now())
    open_ = watched.filter(status__in=OPEN)
    lists = {
        "owned": visible.filter(owner=actor.username, status__in=OPEN).order_by("deadline", "number"),
        "overdue": open_.filter(overdue=True).order_by("deadline", "number"),
        "due_soon": open_.filter(
            overdue=False, deadline__gte=today, deadline__lte=today + timedelta(days=DUE_SOON_DAYS)
        ).order_by("deadline", "number"),
    }
    verifiable: list[HazardLedger] = []
    if may_verify(actor, Severity.GENERAL, None):  # a role that 验收s at all: then hazard by hazard
        rectified = visible.filter(status=Status.RECTIFIED.value).order_by("updated_at", "number")
        verifiable = [r for r in rectified if may_verify(actor, r.severity, r.rectified_by)]
    mine = "" if actor.role in WATCHERS else f"&owner={quote(actor.username)}"
    more = {  # the whole list in the 台账, as near as its filters come
        "owned": f"/hazards/?owner={quote(actor.username)}",
        "overdue": f"/hazards/?overdue=true{mine}",
        "due_soon": f"/hazards/?status=assigned{mine}",
        "to_verify": "/hazards/?status=rectified",
    }
    result: dict[str, Any] = {
        name: {"items": hazard_items(query[:SHOWN]), "count": query.count(), "more": more[name]}
        for name, query in lists.items()
    }
    result["to_verify"] = {
        "items": hazard_items(verifiable[:SHOWN]),
        "count": len(verifiable),
        "more": more["to_verify"],
    }
    result["watching_scope"] = actor.role in WATCHERS
    return result


def forms_to_sign(actor: Actor) -> list[dict[str, Any]]:
    """Joint forms still being filled whose 校长/所长 line is the visitor's and not yet signed by them."""
    forms = scope.filter_by_school(JointFormView.objects.filter(status="draft").order_by("-updated_at"), actor)
    waiting = [f for f in forms if (role := signing_role(actor, f)) is not None and role not in f.signatures]
    names = unit_names(*{f.school for f in waiting})
    return [{"id": f.id, "school": names.get(f.school, ""), "updated_at": f.updated_at} for f in waiting]


def notifications(actor: Actor) -> list[Any]:
    """The newest notices for the visitor: the query of the API's ``notifications/``, brought up to date first."""
    catch_up_notifications(get_application())
    return list(for_actor(actor).order_by("-occurred_at", "-id")[:NOTIFICATIONS_SHOWN])


class HomePage(WebPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        context = {
            **workbench(actor),
            "forms": forms_to_sign(actor),
            "notifications": notifications(actor),
            "links": [link for link in links_for(actor) if link.path != "/"],
            "username": actor.username,
        }
        return render(request, "web/home/home.html", context)
