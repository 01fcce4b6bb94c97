"""Form input of the web pages: a Chinese login form, and posted table cells turned into form changes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.http import QueryDict

from domain.jointform.fields import BY_KEY, COUNT_LABELS, NOT_APPLICABLE, FormField, Party

POSTABLE_KEYS = (*BY_KEY, *COUNT_LABELS)
INTEGER = re.compile(r"-?\d{1,12}")  # longer digit strings go to the domain as text, which refuses them
BOOLEANS = {"true": True, "false": False}
_SKIP = object()


class LoginForm(AuthenticationForm):
    """Django's login with its messages in Chinese whatever language the browser asks for."""

    username = forms.CharField(label="用户名", max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(label="密码", strip=False, widget=forms.PasswordInput)
    error_messages = {
        "invalid_login": "用户名或密码不正确。",
        "inactive": "该账号已停用。",
    }


def changes_from_post(post: QueryDict, current: Mapping[str, Any], party: Party | None) -> dict[str, Any]:
    """The posted cells as form changes: own cells only when they differ from the stored form.

    Cells of the other party, computed counts and police-only content are always passed on, so the domain
    refuses them visibly (``field_not_yours``, ``unknown_field``); comparing them first would both hide the
    attempt and tell a school user whether a guess about police content was right.
    """
    changes: dict[str, Any] = {}
    for key in POSTABLE_KEYS:
        if key not in post:
            continue
        spec = BY_KEY.get(key)
        if spec is None or spec.party != party:
            changes[key] = posted_value(spec, post[key], filled=True) if spec else post[key]
            continue
        value = posted_value(spec, post[key], filled=key in current)
        if value is not _SKIP and (key not in current or current[key] != value):
            changes[key] = value
    return changes


def posted_value(spec: FormField, raw: str, *, filled: bool) -> Any:
    """是/否 → bool, digits → int; "/" (not applicable) and anything else as typed, for the domain to judge."""
    text = raw.replace("\r\n", "\n").strip()
    if text == "":
        return _SKIP if not filled else ("" if spec.kind == "text" else None)
    if spec.slash_allowed and text == NOT_APPLICABLE:
        return NOT_APPLICABLE
    if spec.kind == "bool":
        return BOOLEANS.get(text, text)
    if spec.kind == "int":
        return int(text) if INTEGER.fullmatch(text) else text
    return text


def posted_version(post: QueryDict) -> int | None:
    raw = post.get("version", "")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 10 else None
