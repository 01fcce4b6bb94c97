"""Business time (occurred_at) rules and the business time zone (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import MomentInFuture, OccurredAtNotAware, OccurredInFuture, OccurredOutOfOrder

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
FUTURE_TOLERANCE = timedelta(minutes=5)


def check_occurred_at(occurred_at: datetime, *, now: datetime, latest: datetime | None = None) -> None:
    """Refuse business times that lack an offset, lie in the future or precede the latest event."""
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise OccurredAtNotAware()
    if occurred_at > now + FUTURE_TOLERANCE:
        raise OccurredInFuture(occurred_at=occurred_at.isoformat())
    if latest is not None and occurred_at < latest:
        raise OccurredOutOfOrder(occurred_at=occurred_at.isoformat(), latest=latest.isoformat())


def check_not_future(moment: datetime, *, now: datetime, name: str) -> None:
    """Refuse a queried moment (``at``, ``known_at``) more than the tolerance after ``now``: nothing is known yet."""
    if moment > now + FUTURE_TOLERANCE:
        raise MomentInFuture(f"{name} 不能晚于当前时间（允许误差5分钟）", field=name, moment=moment.isoformat())


def business_date(moment: datetime) -> date:
    """The calendar date of a moment in Asia/Shanghai."""
    return moment.astimezone(BUSINESS_TZ).date()


def beijing_iso(moment: datetime) -> str:
    """A moment as every response, report and page shows it: ISO 8601 in Asia/Shanghai (+08:00)."""
    return moment.astimezone(BUSINESS_TZ).isoformat()


def deadline_end(deadline: date) -> datetime:
    """A deadline (整改时限) ends at 24:00 Asia/Shanghai of its date."""
    return datetime.combine(deadline + timedelta(days=1), time.min, tzinfo=BUSINESS_TZ)


def cutoff_moment(cutoff: date | None, now: datetime) -> datetime:
    """The default ``at`` of a campaign's figures: 24:00 of its statistics cutoff day, or ``now`` if that is
    earlier (never a moment still ahead); ``now`` without a campaign."""
    return now if cutoff is None else min(deadline_end(cutoff), now)
