"""The joint form's input checks: a value for a field (by its kind, its party, "/" where allowed), the attachments
on a field, the guards' counts against each other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.attachments import AttachmentRef, Attachments, checked
from domain.errors import FieldNotYours, InvalidValue, UnknownField
from domain.jointform.fields import BY_KEY, DORMITORY, MAX_TEXT, NOT_APPLICABLE, FormField, Party

Value = bool | int | str | None


def checked_value(key: str, value: Any, party: Party, boarding: bool) -> Value:
    spec: FormField | None = BY_KEY.get(key)
    if spec is None:
        raise UnknownField(f"表中没有栏目“{key}”", field=key)
    if spec.party != party:
        raise FieldNotYours(f"“{spec.label}”由{'学校' if spec.party == 'school' else '派出所'}填写", field=key)
    if spec.slash_allowed and (value is None or (isinstance(value, str) and value.strip() == NOT_APPLICABLE)):
        if key == DORMITORY and boarding:
            raise InvalidValue(f"本校为寄宿制学校，有学生宿舍：“{spec.label}”应填是/否，不能填“/”", field=key)
        return NOT_APPLICABLE  # null, the old spelling of "/", is recorded as "/" from now on
    if value is None:
        if spec.kind == "text":
            return None
        raise InvalidValue(f"“{spec.label}”不能为空", field=key)
    if spec.kind == "bool" and isinstance(value, bool):
        return value
    if spec.kind == "int" and isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**7:
        return value
    if spec.kind == "text" and isinstance(value, str) and len(value) <= MAX_TEXT and _storable(value):
        return value.strip()
    kinds = {"bool": "是/否", "int": "非负整数", "text": f"不超过{MAX_TEXT}字的文字（不含NUL等无法保存的字符）"}
    raise InvalidValue(f"“{spec.label}”应填{kinds[spec.kind]}", field=key)


def checked_refs(key: str, refs: Sequence[AttachmentRef], party: Party) -> Attachments:
    spec: FormField | None = BY_KEY.get(key)
    if spec is None:
        raise UnknownField(f"表中没有栏目“{key}”", field=key)
    if spec.party != party:
        raise FieldNotYours(f"“{spec.label}”由{'学校' if spec.party == 'school' else '派出所'}填写", field=key)
    return checked(refs)  # a police-only field's are sealed with its values (``JointForm.update``)


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL text cannot hold it) and no lone surrogate (not encodable as UTF-8)."""
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def check_guards(fields: dict[str, Value]) -> None:
    total, licensed, over_age = (fields.get(k) for k in ("guards_total", "guards_licensed", "guards_over_age"))
    for key, part in (("guards_licensed", licensed), ("guards_over_age", over_age)):
        if isinstance(total, int) and isinstance(part, int) and part > total:
            raise InvalidValue(f"“{BY_KEY[key].label}”不能多于保安员人数", field=key)
