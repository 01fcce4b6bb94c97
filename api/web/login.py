"""Session logins (the pages' and the admin's), throttled like ``auth/token/`` per client address and username."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import views as auth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api.throttling import LoginRateThrottle

View = Callable[..., HttpResponse]


def throttled_wait(request: HttpRequest) -> int | None:
    """Seconds to wait when this login attempt is over the rate; None when it may go ahead."""
    throttle = LoginRateThrottle()
    if request.method != "POST" or throttle.allow_request(request, None):
        return None
    return math.ceil(throttle.wait() or 60)


def too_many(wait: int) -> str:
    return f"登录尝试过于频繁，请在{wait}秒后重试。"


class LoginView(auth.LoginView):
    template_name = "web/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttled_wait(request)
        if wait is None:
            return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]
        context = self.get_context_data(form=self.get_form_class()(request), throttled=too_many(wait))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response  # type: ignore[no-any-return]


def throttled_login(view: View) -> View:
    """Another login view (Django admin's) behind the same throttle."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttled_wait(request)
        if wait is None:
            return view(request, *args, **kwargs)
        response = render(request, "web/refused.html", {"message": too_many(wait)}, status=429)
        response["Retry-After"] = str(wait)
        return response

    return guarded
