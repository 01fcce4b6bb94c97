"""Every read model's rows, to compare two installations or two moments (a rebuild, a recovery, a swap)."""

from __future__ import annotations

import json

from django.db import models

from projections.eventstore import get_application
from projections.runner import PROJECTORS, catch_up, clear_read_models


def _rows(model: type[models.Model]) -> list[str]:
    auto = model._meta.pk is not None and isinstance(model._meta.pk, models.AutoField)
    names = [f.attname for f in model._meta.concrete_fields if not (auto and f.primary_key)]
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in model.objects.values(*names))


def dump_read_models() -> dict[str, list[str]]:
    """Every row of every read model (auto-increment ids left out: they depend on insertion order)."""
    return {model.__name__: _rows(model) for projector in PROJECTORS for model in projector.models}


def rebuilt_read_models() -> dict[str, list[str]]:
    """The read models as a full rebuild from the log makes them, notifications included (then left so)."""
    clear_read_models()
    catch_up(get_application(), projectors=PROJECTORS)
    return dump_read_models()
