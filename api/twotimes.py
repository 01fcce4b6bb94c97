"""The two times of every read (DESIGN §5): ``at``, the moment described (business time), and ``known_at``, what
the system knew (record time). ``as_of`` is the old name of one of them, depending on the endpoint.

One place parses them, refuses a moment more than 5 minutes ahead (400 ``moment_in_future``), refuses ``as_of``
beside the name it stands for, and fills the defaults: ``known_at`` now; ``at`` now, or for a campaign's reports
and form counts the end of its statistics cutoff day when that is earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.common import Moment
from domain.errors import InvalidValue
from domain.timerules import check_not_future, cutoff_moment

AsOfMeans = Literal["at", "known_at"]
__all__ = ["NAMES", "TwoTimes", "cutoff_moment", "from_query", "parameters", "resolve"]
NAMES = ("at", "known_at", "as_of")


@dataclass(frozen=True)
class TwoTimes:
    at: datetime
    known_at: datetime


def parse(params: Mapping[str, Any]) -> dict[str, datetime | None]:
    """``at``, ``known_at``, ``as_of`` from query parameters (None when absent); a bad value is a 400."""
    found: dict[str, datetime | None] = {}
    for name in NAMES:
        raw = params.get(name)
        if raw in (None, ""):
            found[name] = None
            continue
        try:
            found[name] = Moment().run_validation(raw)
        except serializers.ValidationError as error:
            raise InvalidValue(f"查询参数 {name} 无效", field=name) from error
    return found


def resolve(
    *,
    at: datetime | None,
    known_at: datetime | None,
    as_of: datetime | None = None,
    as_of_means: AsOfMeans,
    default_at: datetime | None = None,
    now: datetime | None = None,
) -> TwoTimes:
    """The two times asked, ``as_of`` standing for ``as_of_means``; defaults ``at`` = ``default_at`` or now,
    ``known_at`` = now. Either one more than 5 minutes after now → 400 ``moment_in_future``."""
    now = now or timezone.now()
    if as_of is not None:
        if (at if as_of_means == "at" else known_at) is not None:
            raise InvalidValue(f"as_of 是 {as_of_means} 的旧名称，二者只能给出一个", field="as_of")
        at, known_at = (as_of, known_at) if as_of_means == "at" else (at, as_of)
    for name, moment in (("at", at), ("known_at", known_at)):
        if moment is not None:
            check_not_future(moment, now=now, name=name)
    return TwoTimes(at=at or default_at or now, known_at=known_at or now)


def from_query(
    params: Mapping[str, Any],
    *,
    as_of_means: AsOfMeans,
    default_at: datetime | None = None,
    now: datetime | None = None,
) -> TwoTimes:
    """``resolve`` of the query parameters ``at``, ``known_at``, ``as_of``."""
    return resolve(**parse(params), as_of_means=as_of_means, default_at=default_at, now=now)


AT_NOW = "默认现在"
AT_CUTOFF = "默认专项排查统计截止日24:00，若其晚于现在则为现在"


def parameters(as_of_means: AsOfMeans | None, at_default: str = AT_NOW) -> list[OpenApiParameter]:
    """The schema's description of the two times (and of ``as_of`` where it is accepted)."""
    found = [
        OpenApiParameter(
            "at",
            str,
            description=f"业务时间（ISO 8601）：所描述的时刻，{at_default}；不得晚于现在5分钟以上",
        ),
        OpenApiParameter(
            "known_at",
            str,
            description="记录时间（ISO 8601）：按系统当时所知的记录，默认现在；不得晚于现在5分钟以上",
        ),
    ]
    if as_of_means is not None:
        found.append(
            OpenApiParameter(
                "as_of",
                str,
                description=f"{as_of_means} 的旧名称（ISO 8601），与 {as_of_means} 不能同时给出",
            )
        )
    return found
