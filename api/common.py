"""What every endpoint shares: command input fields, id parsing, input validation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from domain.errors import InvalidValue, NotFound

MAX_TEXT = 2000
MAX_NAME = 200


class Text(serializers.CharField):
    """Free text with a length limit (oversized text is a 400, never a crash)."""

    def __init__(self, max_length: int = MAX_TEXT, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(max_length=max_length, **kwargs)


class CommandInput(serializers.Serializer):  # type: ignore[type-arg]
    """Fields every command accepts: business time (default now) and optimistic concurrency."""

    occurred_at = serializers.DateTimeField(required=False, help_text="业务发生时间（ISO 8601，带时区），默认当前时间")
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
