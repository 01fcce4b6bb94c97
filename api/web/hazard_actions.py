"""The actions a user may take on a hazard now, each a small form (stub: helper w2-actions provides the real one)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest


def action_forms(request: HttpRequest, hazard_id: UUID) -> list[dict[str, Any]]:
    """The forms of the actions the visitor may take on the hazard now (none in this stub)."""
    return []
