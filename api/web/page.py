"""What the joint form page shows a visitor: the seed table, each cell editable or read-only for them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import QueryDict

from api.jointforms.service import form_json
from domain.errors import DomainError
from domain.jointform.aggregate import SIGNING_ROLES, party_of
from domain.jointform.fields import BY_KEY, FIELDS, FOOTER, NOT_APPLICABLE, TITLE, FormField, Party, printed
from domain.policy import ROLE_LABELS, Actor
from projections import scope
from projections.directory import StaffView, UnitView, boarding
from projections.jointforms import JointFormView
from reports.joint_form import Cell, display, form_date, signature_lines, table_rows

PARTY_LABELS: dict[str, str] = {"school": "学校", "police": "派出所"}
STATUS_LABELS = {"draft": "填写中", "signed": "校长、所长均已签字（已锁定）", "submitted": "已报送（已锁定）"}


def party_for(actor: Actor, row: JointFormView) -> Party | None:
    """The party the visitor fills the form for, if any (bureaus and auditors only read)."""
    try:
        return party_of(actor, row.school, row.station)
    except DomainError:
        return None


def signing_role(actor: Actor, row: JointFormView) -> str | None:
    """Which signature line offers the visitor a button; the domain decides whether the signature stands."""
    if actor.role not in SIGNING_ROLES:
        return None
    unit = row.school if SIGNING_ROLES[actor.role] == "school" else row.station
    return actor.role.value if actor.unit == unit else None


def unit_names(*ids: Any) -> dict[Any, str]:
    return dict(UnitView.objects.filter(id__in=ids).values_list("id", "name"))


def staff_names(usernames: Iterable[str]) -> dict[str, str]:
    return dict(StaffView.objects.filter(username__in=set(usernames)).values_list("username", "display_name"))


def visitor_label(actor: Actor) -> str:
    name = staff_names([actor.username]).get(actor.username, actor.username)
    unit = unit_names(actor.unit).get(actor.unit, "") if actor.unit else ""
    return "，".join(part for part in (name, ROLE_LABELS.get(actor.role, ""), unit) if part)


def form_value(spec: FormField, fields: Mapping[str, Any]) -> str:
    """The stored value as the input widget carries it (the inverse of forms.posted_value)."""
    if spec.key not in fields:
        return ""
    value = fields[spec.key]
    if value is None:
        return NOT_APPLICABLE if spec.slash_allowed else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def choices(value: str, slash: bool) -> list[tuple[str, str]]:
    """是/否, and "/" where it applies; "请选择" while the stored value is none of them (unfilled, or a "/" a
    boarding school may no longer give), so that the browser never preselects an answer nobody gave."""
    options = [("true", "是"), ("false", "否"), *([(NOT_APPLICABLE, "/（不适用）")] if slash else [])]
    return options if value in dict(options) else [("", "请选择"), *options]


def field_cell(
    cell: Cell,
    fields: Mapping[str, Any],
    editable_party: Party | None,
    posted: QueryDict | None,
    *,
    on_paper: Mapping[str, Any] | None = None,
    boarding: bool = False,
    missing: frozenset[str] = frozenset(),
) -> Cell:
    """One cell: its input for the party filling it, else its value as printed (``on_paper``, default the values).

    ``boarding``: a boarding school has a dormitory, so "/" is not offered there.
    """
    spec = BY_KEY[cell["key"]]
    editable = spec.party == editable_party
    value = form_value(spec, fields)
    if editable and posted is not None and spec.key in posted:
        value = posted[spec.key]  # keep what the visitor typed when the domain refused the save
    return {
        **cell,
        "label": spec.label,
        "editable": editable,
        "value": value,
        "display": display(spec.key, fields if on_paper is None else on_paper),
        "choices": choices(form_value(spec, fields), spec.slash_allowed and not boarding)
        if spec.kind == "bool"
        else [],
        "slash": spec.slash_allowed,
        "missing": spec.key in missing,
        "party": spec.party,
        "party_label": PARTY_LABELS[spec.party],
        "filled": spec.key in fields,
    }


def _cell(cell: Cell, form: Mapping[str, Any], editable_party: Party | None, posted: QueryDict | None) -> Cell:
    if cell["kind"] == "field":
        return field_cell(
            cell,
            form["filled"],
            editable_party,
            posted,
            on_paper=form["on_paper"],
            boarding=form["boarding"],
            missing=frozenset(m["key"] for m in form["missing"]),
        )
    if cell["kind"] == "count":
        return {**cell, "value": form["counts"][cell["key"]]}
    return cell


def page_context(
    row: JointFormView, actor: Actor, *, posted: QueryDict | None = None, error: DomainError | None = None
) -> dict[str, Any]:
    """Everything the template needs; police-only cells only for users of police units."""
    form = form_json(row, actor, via="page")
    police = scope.sees_police_content(actor)
    # Only the cells actually filled: an unfilled cell is blank, a None is "/" (not applicable).
    form["filled"] = {**row.fields, **{k: form["fields"][k] for k in row.police_only if k in form["fields"]}}
    form["boarding"] = boarding(row.school)
    form["on_paper"] = printed(form["filled"], boarding=form["boarding"])
    party = party_for(actor, row)
    locked = row.status != "draft"
    editable_party = None if locked else party
    rows = [[_cell(c, form, editable_party, posted) for c in r] for r in table_rows()]
    police_only = [  # not on the form; for users of police units only
        field_cell({"kind": "field", "key": f.key, "type": f.kind}, form["filled"], editable_party, posted)
        for f in FIELDS
        if f.police_only and police
    ]
    signers = staff_names(s.get("signer", "") for s in row.signatures.values())
    lines = signature_lines(row.signatures, form["content_hash"], signers)
    own_line = signing_role(actor, row)
    for line in lines:
        line["can_sign"] = not locked and line["role"] == own_line and line["state"] not in ("valid", "mismatch")
    names = unit_names(row.school, row.station)
    return {
        "title": TITLE,
        "footer": FOOTER,
        "form": form,
        "row": row,
        "rows": rows,
        "police_only": police_only,
        "school_name": names.get(row.school, ""),
        "station_name": names.get(row.station, ""),
        "form_date": form_date(row),
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "locked": locked,
        "party": party,
        "party_label": PARTY_LABELS.get(party or "", ""),
        "can_edit": editable_party is not None,
        "can_submit": row.status == "signed" and party is not None,
        "signatures": lines,
        "missing": [{**m, "party_label": PARTY_LABELS[m["party"]]} for m in form["missing"]],
        "visitor": visitor_label(actor),
        "error": _error(error),
    }


def _error(error: DomainError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    text = error.message if error.detail == error.message else f"{error.message}：{error.detail}"
    return {"code": error.code, "text": text, "field": error.context.get("field", "")}
