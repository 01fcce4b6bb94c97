"""The navigation bar of every page: which links each role sees (the one place that decides it), and who is visiting.

The roles come from ``domain.policy`` and the rules that guard each page's data: 隐患登记 for those who may discover
a hazard, 督办 and 谁负责 for bureaus and stations, 审计 for those who may verify the log (``api.audit.VERIFIERS``).
A link hidden here is a convenience, not a guard: each page checks its own rights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from api.audit import VERIFIERS as AUDIT_READERS
from api.auth import UserInactive, actor_for
from api.web.page import visitor_label
from domain.hazard.aggregate import DISCOVERERS
from domain.policy import BUREAU_ROLES, STATION_ROLES, Actor, Role

EVERYONE: frozenset[Role] = frozenset(Role) - {Role.SYSTEM}
SUPERVISING = BUREAU_ROLES | STATION_ROLES | {Role.ADMIN}


@dataclass(frozen=True)
class Link:
    path: str
    label: str
    roles: frozenset[Role]


LINKS: tuple[Link, ...] = (
    Link("/", "工作台", EVERYONE),
    Link("/notifications/", "通知", EVERYONE),
    Link("/hazards/", "隐患台账", EVERYONE),
    Link("/hazards/new/", "隐患登记", DISCOVERERS | {Role.ADMIN}),
    Link("/supervision/", "督办", SUPERVISING),
    Link("/ownership/", "谁负责", SUPERVISING),
    Link("/dashboard/", "统计", EVERYONE),
    Link("/audit/", "审计", AUDIT_READERS),
    Link("/reports/", "报表", EVERYONE),
    Link("/forms/joint/", "联合检查表", EVERYONE),
    Link("/account/", "账户", EVERYONE),
    Link("/admin-tools/import/", "批量导入", frozenset({Role.ADMIN})),
)


def links_for(actor: Actor) -> list[Link]:
    return [link for link in LINKS if actor.role in link.roles]


def current(path: str, links: list[Link]) -> str:
    """The link the page belongs to: the longest path the page's path starts with (``/`` only for ``/``)."""
    matches = [link.path for link in links if path == link.path or (link.path != "/" and path.startswith(link.path))]
    return max(matches, key=len, default="")


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``nav`` (the visitor's links, the current one marked) and ``visitor``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/api/", "/admin/")):
        return {}
    try:
        actor = actor_for(user)
    except UserInactive:
        return {}
    links = links_for(actor)
    here = current(request.path, links)
    return {
        "nav": [{"path": link.path, "label": link.label, "current": link.path == here} for link in links],
        "visitor": visitor_label(actor),
    }
