"""JSON request bodies that can be parsed safely and stored: shallow, and no lone surrogate characters in them."""

from __future__ import annotations

import codecs
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

MAX_DEPTH = 32  # no request of this API nests deeper than 3; the stdlib decoder recurses once per level
# A JSON string (skipped whole: brackets inside it are text; an unterminated one runs to the end, so no text is
# scanned twice), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class StrictJSONParser(JSONParser):
    """JSON nested deeper than ``MAX_DEPTH`` is refused before the decoder sees it (the decoder recurses per level:
    ``'[' * 500`` made it and every walk over its result a stack overflow, and a DEBUG traceback megabytes long).
    JSON allows ``"\\ud800"``, but such text cannot be encoded as UTF-8: not in an event, not even echoed in an
    error message. Both are refused as malformed here, once, instead of failing wherever they would end up."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(stream.read(), encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nested_deeper(text, MAX_DEPTH):
            raise ParseError(f"请求体嵌套过深（最多{MAX_DEPTH}层）", code="too_deep")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if not _encodable(data):
            raise ParseError("请求体含有无法编码的字符（孤立代理字符）", code="unencodable_text")
        return data


def nested_deeper(text: str, limit: int) -> bool:
    """Whether arrays and objects in (possibly malformed) JSON text nest deeper than ``limit``: one pass, no
    recursion, stopping at the first bracket too deep."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def _encodable(data: Any) -> bool:
    """No string (key or value) holds a surrogate; walked with a stack, not by recursion."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if any("\ud800" <= char <= "\udfff" for char in value):
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True
