"""统计: the figures of a set of hazards at ``at`` as known at ``known_at`` — the one definition that the
``statistics/`` endpoint, the dashboard, 苏州 附件1, 常州 附件2 and the joint form's counts all count by.

Over ``projections.hazard.queries.states_at`` (each hazard's state in force at ``at`` as recorded by ``known_at``;
hazards known to be voided by then left out):

- 发现数 (``found``): hazards discovered up to ``at``;
- 整改数 (``rectified``): of those, rectified or closed at ``at`` (``DONE_STATUSES``: 待验收 or 已销号);
- 未整改数 (``open``): of those, still open at ``at`` (``OPEN_STATUSES``), so ``found == rectified + open``;
- 逾期数 (``overdue``): open at ``at`` with a missed deadline — the recorded miss (``DeadlineMissed`` occurs at the
  deadline's 24:00, so a deadline still ahead is never missed; an extension clears it);
- 重大隐患数 (``major``): of those found, the major ones; 挂牌督办数 (``supervised``): of those found, the ones
  under 挂牌督办 by ``at``;
- 整改率 = 整改数 / 发现数, 逾期率 = 逾期数 / 未整改数 (None when the divisor is 0).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.db.models import QuerySet

from domain.hazard.aggregate import Severity
from domain.hazard.status import DONE_STATUSES, OPEN_STATUSES
from domain.timerules import BUSINESS_TZ
from projections.hazard.queries import states_at
from projections.hazard.rows import HazardVersion

Group = Literal["school", "category", "week"]
GROUPS: tuple[Group, ...] = ("school", "category", "week")
GROUP_LABELS: dict[str, str] = {"school": "学校", "category": "类别", "week": "发现周"}
_COLUMNS = (
    "school",
    "status",
    "overdue",
    "state__category",
    "state__severity",
    "state__supervised",
    "state__discovered_at",
)


@dataclass
class Figures:
    found: int = 0
    rectified: int = 0
    open: int = 0
    overdue: int = 0
    major: int = 0
    supervised: int = 0

    @property
    def rectification_rate(self) -> float | None:
        """整改率 = 整改数 / 发现数."""
        return self.rectified / self.found if self.found else None

    @property
    def overdue_rate(self) -> float | None:
        """逾期率 = 逾期数 / 未整改数 (the hazards open at ``at``)."""
        return self.overdue / self.open if self.open else None

    def count(self, status: str, overdue: bool, severity: str, supervised: bool) -> None:
        self.found += 1
        if status in DONE_STATUSES:
            self.rectified += 1
        elif status in OPEN_STATUSES:
            self.open += 1
            self.overdue += bool(overdue)
        self.major += severity == Severity.MAJOR
        self.supervised += bool(supervised)


@dataclass
class Tally:
    total: Figures = field(default_factory=Figures)
    groups: dict[Hashable, Figures] = field(default_factory=dict)


def hazard_states(
    at: datetime,
    known_at: datetime,
    *,
    schools: QuerySet[Any] | Iterable[UUID] | None = None,
    campaign: UUID | None = None,
) -> QuerySet[HazardVersion]:
    """The hazards counted: their states at ``at`` as known at ``known_at``, of ``schools`` (None: all) and
    ``campaign`` (None: every campaign)."""
    states = states_at(at, known_at)
    if campaign is not None:
        states = states.filter(campaign=campaign)
    if schools is not None:
        states = states.filter(school__in=schools)
    return states


def tally(states: QuerySet[HazardVersion], group: Group | None = None) -> Tally:
    """The figures of ``states`` (from ``hazard_states`` / ``states_at``) in total and, with ``group``, per school
    (its id), category (its name) or week of discovery (the Monday, Beijing time)."""
    found = Tally()
    for school, status, overdue, category, severity, supervised, discovered in states.values_list(*_COLUMNS):
        found.total.count(status, overdue, severity, supervised)
        if group is not None:
            key = _key(group, school, category, discovered)
            found.groups.setdefault(key, Figures()).count(status, overdue, severity, supervised)
    return found


def week_of(moment: datetime) -> date:
    """The Monday of the week (Beijing time) of a moment."""
    day = moment.astimezone(BUSINESS_TZ).date()
    return day - timedelta(days=day.weekday())


def _key(group: Group, school: UUID, category: Any, discovered: Any) -> Hashable:
    if group == "school":
        return school
    if group == "category":
        return str(category or "")
    return week_of(discovered if isinstance(discovered, datetime) else datetime.fromisoformat(str(discovered)))


def counts_at(campaign: UUID, school: UUID, at: datetime, known_at: datetime) -> dict[str, int]:
    """排查出的总隐患数 / 隐患整改数 / 未整改隐患数 of a school in a campaign at ``at`` (e.g. the statistics cutoff):
    the joint form's counts, 发现数 / 整改数 / 发现数 − 整改数."""
    figures = tally(hazard_states(at, known_at, schools=[school], campaign=campaign)).total
    return {
        "hazards_total": figures.found,
        "hazards_rectified": figures.rectified,
        "hazards_open": figures.found - figures.rectified,
    }
