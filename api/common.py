"""What every endpoint shares: command input fields, id parsing, input validation."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

from domain.attachments import MAX_PER_EVENT
from domain.errors import InvalidValue, NotFound, UnknownParameter

MAX_TEXT = 2000
MAX_NAME = 200


class Text(serializers.CharField):
    """Free text with a length limit (oversized text is a 400, never a crash)."""

    def __init__(self, max_length: int = MAX_TEXT, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(max_length=max_length, **kwargs)


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
# Wall-clock times this far inside year 1 or 9999 cannot be converted between time zones (OverflowError):
# anything outside these, with any offset (at most ±24 h), is out of range before a conversion is tried.
_WALL_EARLIEST, _WALL_LATEST = datetime(1969, 12, 30), datetime(9000, 1, 2)


def in_business_range(moment: datetime) -> bool:
    """Whether an aware moment lies from 1970 to 9000 (compared, never converted: conversion can overflow)."""
    return EARLIEST <= moment < LATEST


class Moment(serializers.DateTimeField):
    """An ISO 8601 moment from 1970 to 9000, with or without an offset: every date-time a request can carry.
    Earlier is no business time of this ledger (and before 1901 Asia/Shanghai had an offset in seconds, which
    RFC 3339 cannot print); later overflows date arithmetic. The wall-clock value is checked before DRF makes it
    aware: ``0001-01-01`` in Asia/Shanghai is before UTC's year 1 and overflowed there (a 500)."""

    default_error_messages = {"out_of_range": "时间须在1970年至9000年之间"}

    def to_internal_value(self, value: Any) -> datetime:
        wall = _wall_clock(value)
        if wall is not None and not _WALL_EARLIEST <= wall <= _WALL_LATEST:
            self.fail("out_of_range")
        moment: datetime = super().to_internal_value(value)
        if not in_business_range(moment):
            self.fail("out_of_range")
        return moment


def _wall_clock(value: Any) -> datetime | None:
    """The date and time written in ``value``, offset dropped; None when it is no date-time (DRF says why)."""
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        except ValueError:
            return None
    return value.replace(tzinfo=None) if isinstance(value, datetime) else None


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


class AttachmentIds(serializers.ListField):  # type: ignore[type-arg]
    """``attachments``: the ids of uploads (``POST attachments/``) the command records, each by its hashes; the
    command's transaction pins them (``api.services.attached``). Optional, empty by default."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "附件 id 列表（先上传到 attachments/）；登记整改完成默认须含至少一张照片")
        super().__init__(child=CanonicalUUID(), required=False, default=list, max_length=MAX_PER_EVENT, **kwargs)


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


# The one spelling of an id: 8-4-4-4-12 ASCII hex digits (either case, RFC 9562). Python's UUID() also takes
# braces, ``urn:uuid:``, no hyphens and full-width digits: several texts for one object, none of them ours.
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical_uuid(value: Any) -> UUID | None:
    """The UUID written canonically in ``value``; None for any other text."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return UUID(value)
    return None


def parse_uuid(value: str, not_found: type[NotFound] = NotFound) -> UUID:
    """An id from a URL path: anything but a canonical UUID names no object (404)."""
    found = canonical_uuid(value)
    if found is None:
        raise not_found(id=str(value))
    return found


class CanonicalUUID(serializers.UUIDField):
    """An id in a request body or query: only the canonical spelling (DRF's UUIDField takes any of Python's)."""

    def to_internal_value(self, data: Any) -> UUID:
        found = canonical_uuid(data)
        if found is None:
            self.fail("invalid", value=data)
        return found


class _CanonicalUUIDFormField(forms.UUIDField):
    def to_python(self, value: Any) -> UUID | None:
        if value in self.empty_values:
            return None
        found = canonical_uuid(value)
        if found is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return found


class CanonicalUUIDFilter(django_filters.UUIDFilter):
    """A query filter on an id: only the canonical spelling, anything else a 400 naming the filter."""

    field_class = _CanonicalUUIDFormField


def enum_choices(enum: Any) -> list[str]:
    return [member.value for member in enum]


class TrueFalseFilter(django_filters.ChoiceFilter):
    """A ``true`` / ``false`` query filter: anything else is a 400 naming it; an enum in the OpenAPI schema."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        return qs if value in ("", None) else super().filter(qs, value == "true")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _MomentOrDayField(forms.Field):
    """A date (the start of that day, or of the next day with ``end_of_day``) or a date-time, as Day/Moment."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        try:
            if isinstance(value, str) and _ISO_DATE.fullmatch(value):
                day = Day().run_validation(value) + timedelta(days=1 if self.end_of_day else 0)
                return timezone.make_aware(datetime.combine(day, time()))
            moment: datetime = Moment().run_validation(value)
            return moment
        except serializers.ValidationError as error:
            raise forms.ValidationError("请输入日期（YYYY-MM-DD）或带时区的时间（ISO 8601）", code="invalid") from error


class MomentFilter(django_filters.Filter):
    """A bound on a moment: ``after`` is from the given date or time on, ``before`` up to the given time or to
    the end of the given date (so ``after=2026-03-01&before=2026-03-31`` is the whole of March)."""

    field_class = _MomentOrDayField

    def __init__(self, *, field_name: str, bound: str, **kwargs: Any) -> None:
        before = bound == "before"
        kwargs.setdefault("end_of_day", before)
        super().__init__(field_name=field_name, lookup_expr="lt" if before else "gte", **kwargs)


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


# Query parameters every endpoint takes: the page (``limit``, ``offset``), the representation, the order.
ALWAYS_ALLOWED = frozenset({"limit", "offset", "format", "ordering"})


def declared_parameters(view: Any, method: str) -> frozenset[str]:
    """The query parameters ``view`` documents for ``method``: its filterset's filters and the parameters of its
    ``@extend_schema`` (the OpenAPI schema's own source, so what is accepted is what is documented)."""
    names = set(ALWAYS_ALLOWED)
    filterset_class = getattr(view, "filterset_class", None)
    if filterset_class is not None:
        names.update(filterset_class.base_filters)
    handler = getattr(type(view), "get" if method.upper() == "HEAD" else method.lower(), None)
    schema_class = getattr(handler, "kwargs", {}).get("schema")
    schema = schema_class() if schema_class is not None else getattr(type(view), "schema", None)
    if schema is not None and hasattr(schema, "get_override_parameters"):
        schema.view, schema.method = view, "GET" if method.upper() == "HEAD" else method.upper()
        names.update(
            parameter.name
            for parameter in schema.get_override_parameters()
            if getattr(parameter, "location", None) == "query"
        )
    return frozenset(names)


class DeclaredQuery:
    """Refuses a read with a query parameter the endpoint does not document (400 ``unknown_parameter``): a
    misspelt or unsupported filter is an error, never a silently unfiltered list."""

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in ("GET", "HEAD"):
            unknown = sorted(set(request.query_params) - declared_parameters(self, request.method))
            if unknown:
                raise UnknownParameter(f"未知的查询参数：{'、'.join(unknown)}", parameters=unknown)
