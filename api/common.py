"""What every endpoint shares: command input fields, id parsing, input validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import django_filters
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

from domain.errors import InvalidValue, NotFound

MAX_TEXT = 2000
MAX_NAME = 200


class Text(serializers.CharField):
    """Free text with a length limit (oversized text is a 400, never a crash)."""

    def __init__(self, max_length: int = MAX_TEXT, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(max_length=max_length, **kwargs)


class Moment(serializers.DateTimeField):
    """An ISO 8601 moment from 1970 to 9000. Earlier is no business time of this ledger (and before 1901
    Asia/Shanghai had an offset in seconds, which RFC 3339 cannot print); later overflows date arithmetic."""

    default_error_messages = {"out_of_range": "时间须在1970年至9000年之间"}
    earliest, latest = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)

    def to_internal_value(self, value: Any) -> datetime:
        moment: datetime = super().to_internal_value(value)
        if not self.earliest <= moment < self.latest:
            self.fail("out_of_range")
        return moment


class Day(serializers.DateField):
    """A calendar date from 1970 to 9000 (a deadline ends at 24:00 of its date: the next day must exist)."""

    default_error_messages = {"out_of_range": "日期须在1970年至9000年之间"}

    def to_internal_value(self, value: Any) -> date:
        day: date = super().to_internal_value(value)
        if not date(1970, 1, 1) <= day < date(9000, 1, 1):
            self.fail("out_of_range")
        return day


class CommandInput(serializers.Serializer):  # type: ignore[type-arg]
    """Fields every command accepts: business time (default now) and optimistic concurrency."""

    occurred_at = Moment(required=False, help_text="业务发生时间（ISO 8601，带时区），默认当前时间")
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["请求体必须是JSON对象"]})
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_param(request: Any, name: str, field: serializers.Field) -> Any:  # type: ignore[type-arg]
    """A validated query parameter, None when absent; a bad value is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as error:
        raise InvalidValue(f"查询参数 {name} 无效", field=name) from error


def parse_uuid(value: str, not_found: type[NotFound] = NotFound) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise not_found(id=str(value)) from None


def enum_choices(enum: Any) -> list[str]:
    return [member.value for member in enum]


class TrueFalseFilter(django_filters.ChoiceFilter):
    """A ``true`` / ``false`` query filter: anything else is a 400 naming it; an enum in the OpenAPI schema."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        return qs if value in ("", None) else super().filter(qs, value == "true")


class LimitOffset(LimitOffsetPagination):
    """DRF's ``limit``/``offset``, bounded: a huge number is a short or empty page, never a database overflow."""

    max_limit = 1000
    max_offset = 2**31 - 1

    def get_offset(self, request: Any) -> int:
        return min(super().get_offset(request), self.max_offset)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        """DRF's page, counted without a COUNT query when the page itself shows where the results end: a short
        page that starts at 0 or has rows holds the last of them (most lists are one short page)."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        page = list(queryset[self.offset : self.offset + self.limit])
        short = len(page) < self.limit and (page or self.offset == 0)
        self.count = self.offset + len(page) if short else self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return page
