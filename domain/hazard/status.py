"""A hazard's status and the one place its transitions and its open/done sets are decided.

The aggregate, the ledger and history projections, 倒查追责 (``domain/accountability.py``) and the reports all use
these; none of them lists the statuses of a set or decides a transition itself (a test searches the sources).

A voided hazard (作废) keeps the status it had: it leaves every count and list by its own ``voided`` flag, which the
callers filter on, never by a status.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REPORTED = "reported"
    ASSIGNED = "assigned"
    RECTIFIED = "rectified"
    CLOSED = "closed"


STATUS_LABELS = {
    Status.REPORTED: "已上报",
    Status.ASSIGNED: "整改中",
    Status.RECTIFIED: "待验收",
    Status.CLOSED: "已销号",
}

# 未整改: work still to be done (a plan, interim measures and a deadline apply; a missed deadline is overdue).
OPEN_STATUSES = frozenset({Status.REPORTED, Status.ASSIGNED})
# 已整改 (the reports' 隐患整改数): the owner has finished the work, whether or not it has passed 验收 yet.
DONE_STATUSES = frozenset({Status.RECTIFIED, Status.CLOSED})
# Not yet 销号: still answerable to escalation and 挂牌督办.
NOT_CLOSED_STATUSES = OPEN_STATUSES | {Status.RECTIFIED}

# The status an event sets whatever came before (the other events leave the status as it was).
STATUS_SET_BY = {
    "Assigned": Status.ASSIGNED,
    "Rectified": Status.RECTIFIED,
    "Verified": Status.CLOSED,
    "Rejected": Status.ASSIGNED,
}


def initial_status(rectified_on_spot: bool) -> Status:
    """A hazard rectified on the spot (立行立改) is closed the moment it is discovered; any other is reported."""
    return Status.CLOSED if rectified_on_spot else Status.REPORTED


def status_after_reopen(owner: str | None) -> Status:
    """A reopened hazard goes back to its owner if it ever had one, else it waits to be assigned."""
    return Status.ASSIGNED if owner else Status.REPORTED


def next_status(status: str, kind: str, *, owner: str | None) -> Status:
    """The status right after an event named ``kind`` (the event class's name, e.g. "Reopened") is applied to a
    hazard in ``status`` whose owner before the event is ``owner``. "Discovered" starts a hazard: ``initial_status``."""
    if kind == "Reopened":
        return status_after_reopen(owner)
    return STATUS_SET_BY.get(kind, Status(status))
