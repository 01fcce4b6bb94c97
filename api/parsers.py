"""JSON request bodies that can be stored and answered: no lone surrogate characters anywhere in them."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON allows ``"\\ud800"``, but such text cannot be encoded as UTF-8: not in an event, not even echoed in an
    error message. Refused as malformed here, once, instead of failing wherever it would end up."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not _encodable(data):
            raise ParseError("请求体含有无法编码的字符（孤立代理字符）", code="unencodable_text")
        return data


def _encodable(value: Any) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return all(_encodable(key) and _encodable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_encodable(item) for item in value)
    return True
