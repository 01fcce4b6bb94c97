"""Login throttling: attempts per client address and username, for the token endpoint and the login page."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle


class LoginThrottled(exceptions.Throttled):
    default_detail = "登录尝试过于频繁"
    extra_detail_singular = extra_detail_plural = "请在{wait}秒后重试"
    default_code = "too_many_login_attempts"


class LoginRateThrottle(SimpleRateThrottle):
    """``login`` rate (settings) per client address and username, so guessing one password is slow.

    The address is REMOTE_ADDR unless ``NUM_PROXIES`` says how many proxies to trust, so a forged
    X-Forwarded-For header cannot make every attempt look like a new client.
    """

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str:
        username = str(_credentials(request).get("username", ""))
        ident = f"{self.get_ident(request)}\x00{username.strip().lower()}"
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(ident.encode()).hexdigest()}


def _credentials(request: Any) -> Mapping[str, Any]:
    """The posted form or JSON object (a DRF request, or the login page's); anything else names no user."""
    data = request.data if hasattr(request, "data") else request.POST  # a malformed body stays a 400
    return data if isinstance(data, Mapping) else {}
