"""The API's JSON: DRF's, with every date-time in Asia/Shanghai (+08:00) — one time zone out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from domain.timerules import beijing_iso


class BeijingJSONEncoder(JSONEncoder):
    """Aware date-times (raw values in views' dicts, not passed through a serializer field) read as +08:00."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, datetime) and obj.tzinfo is not None:
            return beijing_iso(obj)
        return super().default(obj)


class BeijingJSONRenderer(JSONRenderer):
    encoder_class = BeijingJSONEncoder
