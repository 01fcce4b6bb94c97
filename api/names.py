"""Display names beside ids in the API's JSON (DESIGN §5): ``school_name``, ``owner_name``, ``actor_name``, ….

A name field reads the id (or username) at its ``source`` and answers the directory's current name, or null when
the directory does not know it. A list of ``NamedOutput`` items reads every name it shows in one query per kind
(``projections.directory.DisplayNames``), nested lists included, before the items are written out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.db import models
from rest_framework import serializers
from rest_framework.fields import SkipField

from projections.directory import DisplayNames


def names_in(context: Mapping[str, Any]) -> DisplayNames:
    """The names read for this response (one per root serializer, shared by its nested ones)."""
    found = context.get("names")
    if found is None and isinstance(context, dict):
        found = context["names"] = DisplayNames()
    return found if found is not None else DisplayNames()


class UnitName(serializers.CharField):
    """The name of the unit whose id is at ``source``."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "单位名称")
        super().__init__(source=source, read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:
        return names_in(self.context).unit_name(value)


class PersonName(serializers.CharField):
    """The display name (姓名) of the user whose username is at ``source``."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "姓名")
        super().__init__(source=source, read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:
        return names_in(self.context).person_name(value)


class UnitNames(serializers.ListField):
    """The names of the units whose ids are listed at ``source``, in the same order."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "单位名称（与 id 列表顺序一致）")
        super().__init__(source=source, read_only=True, child=serializers.CharField(allow_null=True), **kwargs)

    def to_representation(self, data: Any) -> list[str | None]:
        names = names_in(self.context)
        return [names.unit_name(unit) for unit in data]


class PersonNames(serializers.ListField):
    """The display names of the users listed at ``source``, in the same order."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "姓名（与用户名列表顺序一致）")
        super().__init__(source=source, read_only=True, child=serializers.CharField(allow_null=True), **kwargs)

    def to_representation(self, data: Any) -> list[str | None]:
        names = names_in(self.context)
        return [names.person_name(username) for username in data]


class NamedList(serializers.ListSerializer):  # type: ignore[type-arg]
    """A list whose names are read for all its items at once, before any item is written out."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if isinstance(data, models.manager.BaseManager) else data)
        units: set[UUID | str] = set()
        people: set[str] = set()
        _gather(self.child, items, units, people)
        names_in(self.context).load(units, people)
        return super().to_representation(items)  # type: ignore[no-any-return]


class NamedOutput(serializers.Serializer):  # type: ignore[type-arg]
    """An output whose lists read their names in bulk (see ``NamedList``); one item alone (a command's answer, a
    detail page) reads its units' and people's names in one round trip too, before its fields are written out."""

    class Meta:
        list_serializer_class = NamedList

    def to_representation(self, instance: Any) -> Any:
        if self.parent is None:
            units: set[UUID | str] = set()
            people: set[str] = set()
            _gather(self, [instance], units, people)
            names_in(self.context).load(units, people)
        return super().to_representation(instance)


def _gather(serializer: Any, items: Iterable[Any], units: set[UUID | str], people: set[str]) -> None:
    """Every id and username the name fields of ``serializer`` (and its nested lists) will look up."""
    for field in serializer.fields.values():
        values = list(_values(field, items))
        if isinstance(field, UnitName):
            units.update(v for v in values if v)
        elif isinstance(field, PersonName):
            people.update(v for v in values if v)
        elif isinstance(field, UnitNames):
            units.update(u for v in values for u in v or () if u)
        elif isinstance(field, PersonNames):
            people.update(p for v in values for p in v or () if p)
        elif isinstance(field, serializers.ListSerializer):
            _gather(field.child, [x for v in values for x in _items(v)], units, people)
        elif isinstance(field, serializers.Serializer):
            _gather(field, [v for v in values if v is not None], units, people)


def _items(value: Any) -> Iterable[Any]:
    """A nested list's items; a related manager's are read from its prefetch (see the views' querysets)."""
    if isinstance(value, models.manager.BaseManager):
        return value.all()
    return value or ()


def _values(field: serializers.Field, items: Iterable[Any]) -> Iterable[Any]:  # type: ignore[type-arg]
    if not isinstance(field, (UnitName, PersonName, UnitNames, PersonNames, serializers.BaseSerializer)):
        return
    for item in items:
        try:
            yield field.get_attribute(item)
        except (AttributeError, KeyError, SkipField):
            continue
