"""Bulk writes for projectors: many rows per round trip, with no model instance per row.

A rebuild writes a row or two per event; through the ORM (a model instance, then per-field preparation)
that costs more than decoding the event. Here rows are plain tuples of Python values in the order of the
named fields, inside the caller's transaction: new rows by COPY on PostgreSQL, upserts and updates by
``executemany`` (pipelined by psycopg: one round trip, the statement parsed once). PostgreSQL takes the
values as they are (JSON fields are dumped here); SQLite gets each prepared by its Django field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import Lookup, Q
from django.db.models.base import ModelState
from django.db.models.lookups import In
from psycopg.copy import QueuedLibpqWriter

Row = Sequence[Any]
FEW = 50  # fewer rows than this go by executemany (pipelined): a COPY costs more to set up
M = TypeVar("M", bound=models.Model)


class JsonText(str):
    """A JSON field's value already serialized (e.g. assembled from cached parts): written as it is."""


@models.Field.register_lookup
class AnyOf(Lookup):  # type: ignore[type-arg]
    """``field = ANY(%s)``: one array parameter (PostgreSQL) where ``__in`` has a placeholder per value."""

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, conn: Any) -> tuple[str, list[Any]]:
        field = self.lhs.output_field
        return "%s", [[field.get_db_prep_value(v, conn, prepared=False) for v in value]]

    def as_sql(self, compiler: Any, conn: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, conn)
        rhs, rhs_params = self.process_rhs(compiler, conn)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def among(field: str, values: Iterable[Any]) -> Q:
    """``field IN values``, as one array parameter on PostgreSQL: a batch looks up thousands of keys, and a
    statement with a placeholder per key costs more to build and parse than the lookup itself."""
    lookup = "any" if connection.vendor == "postgresql" else "in"
    return Q(**{f"{field}__{lookup}": list(values)})


def by_pk(model: type[M], keys: Iterable[Any]) -> dict[Any, M]:
    """``in_bulk`` with ``among`` (and no query for no keys); the rows are made by ``loaded`` (the projectors
    only read their fields and write them back in bulk)."""
    keys = list(keys)
    if not keys:
        return {}
    query = _BY_PK.get(model)
    if query is None:
        names = [f.attname for f in model._meta.concrete_fields]
        query = _BY_PK[model] = KeyedQuery(
            lambda keys: model._default_manager.filter(among("pk", keys)).order_by().values_list(*names)
        )
    names = query.names
    pk = names.index(model._meta.pk.attname)  # type: ignore[union-attr]
    return {values[pk]: loaded(model, names, values) for values in query.rows(keys)}


class KeyedQuery:
    """A ``values_list`` query whose only parameter is a set of keys (``among``), compiled by the ORM once per
    database (on SQLite, per number of keys up to ``FEW_KEYS``) and run with each call's own keys. A command reads
    a row or two per table: compiling the query took longer than running it.

    ``build(keys)`` makes the query; it must depend on nothing but ``keys``. Where the keys are found among the
    compiled statement's parameters is learnt from the first call, by comparing them with the keys as the field
    prepares them; a statement in which they cannot be told apart from the other parameters is compiled each time,
    as before."""

    FEW_KEYS = 8  # SQLite has a placeholder per key: a batch's thousands are compiled each time, not kept

    def __init__(self, build: Callable[[list[Any]], models.QuerySet[Any]]) -> None:
        self.build = build
        self.names: list[str] = list(build([]).query.values_select)
        self._compiled: dict[tuple[str, str, int], tuple[str, Any, Callable[[list[Any]], list[Any]]] | None] = {}

    def rows(self, keys: list[Any]) -> Iterator[tuple[Any, ...]]:
        pooled = connection.vendor == "postgresql"  # one array parameter, whatever the number of keys
        if not pooled and len(keys) > self.FEW_KEYS:
            return iter(self.build(keys))
        slot = (connection.alias, connection.vendor, 0 if pooled else len(keys))
        if slot not in self._compiled:
            self._compiled[slot] = self._compile(keys, pooled)
        compiled = self._compiled[slot]
        if compiled is None:
            return iter(self.build(keys))
        sql, compiler, params = compiled
        with connection.cursor() as cursor:
            cursor.execute(sql, params(keys))
            fetched = cursor.fetchall()
        return compiler.results_iter(results=[fetched])  # type: ignore[no-any-return]

    def _compile(self, keys: list[Any], pooled: bool) -> tuple[str, Any, Callable[[list[Any]], list[Any]]] | None:
        query = self.build(keys).query
        compiler = query.get_compiler(connection=connection)
        sql, compiled = compiler.as_sql()
        lookups = [c for c in query.where.children if isinstance(c, (AnyOf, In))]
        if len(lookups) != 1:
            return None
        field = lookups[0].lhs.output_field

        def prepared(keys: list[Any]) -> list[Any]:
            return [field.get_db_prep_value(k, connection, prepared=False) for k in keys]

        params, ours = list(compiled), prepared(keys)
        if pooled:  # one parameter: the array of keys
            found = [i for i, p in enumerate(params) if p == ours]
            n = 1
        else:  # a parameter per key
            n = len(ours)
            found = [i for i in range(len(params) - n + 1) if params[i : i + n] == ours]
        if len(found) != 1:
            return None
        before, after = params[: found[0]], params[found[0] + n :]
        if pooled:
            return sql, compiler, lambda keys: [*before, prepared(keys), *after]
        return sql, compiler, lambda keys: [*before, *prepared(keys), *after]


_BY_PK: dict[type[models.Model], KeyedQuery] = {}


def loaded(model: type[M], names: Sequence[str], values: Sequence[Any]) -> M:
    """The row as ``Model.from_db`` makes it from ``values`` (converted by the fields), without ``Model.__init__``:
    a rebuild loads tens of thousands, and the constructor's signals and per-field work cost more than the query."""
    row = new_row(model, zip(names, values, strict=True))
    row._state.adding, row._state.db = False, connection.alias
    return row


def new_row(model: type[M], values: Iterable[tuple[str, Any]]) -> M:
    """A model instance with exactly the given field values (every concrete field's, by attname), without
    ``Model.__init__``."""
    row = model.__new__(model)
    row._state = ModelState()
    row.__dict__.update(values)
    return row


def insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Row]) -> None:
    """INSERT every row (all new: a conflict is an error, as with ``bulk_create``)."""
    rows = list(rows)
    if not rows:
        return
    table, columns = _names(model, fields)
    prepare = _preparer(model, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= FEW and not _pipelined():
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(prepare(row))
        else:
            cursor.executemany(_insert_sql(table, columns), [prepare(r) for r in rows])


@contextmanager
def inserting(model: type[models.Model], fields: Sequence[str], *, expected: int) -> Iterator[Callable[[Row], None]]:
    """``insert`` fed one row at a time. When many rows are ``expected`` on PostgreSQL, each is on its way to
    the server as soon as it is written (COPY through a writer thread), so the server stores rows while the
    caller computes the next ones: nothing else may use the connection until the block ends."""
    table, columns = _names(model, fields)
    prepare = _preparer(model, fields)
    if connection.vendor != "postgresql" or expected < FEW:
        rows: list[Row] = []
        yield rows.append
        insert(model, fields, rows)
        return
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
            yield lambda row: copy.write_row(prepare(row))


def _pipelined() -> bool:
    """Inside ``together``: COPY cannot take part in a pipeline (a few events may still make many rows)."""
    return bool(connection.connection is not None and connection.connection.pgconn.pipeline_status)


@contextmanager
def together(statements_are_few: bool) -> Iterator[None]:
    """Send the writes of the block in one round trip (psycopg's pipeline mode; COPY cannot take part, so
    only for few rows): a command's catch-up writes a row or two to several tables."""
    if connection.vendor != "postgresql" or not statements_are_few:
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


def upsert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Row], *, key: Sequence[str]) -> None:
    """INSERT every row, or UPDATE the existing one with the same ``key`` (all named non-key fields)."""
    rows = list(rows)
    if not rows:
        return
    table, columns = _names(model, fields)
    keys = _names(model, key)[1]
    changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    sql = f"{_insert_sql(table, columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {changes}"
    prepare = _preparer(model, fields)
    with connection.cursor() as cursor:
        cursor.executemany(sql, [prepare(r) for r in rows])


def update(model: type[models.Model], fields: Sequence[str], rows: Iterable[Row], *, key: Sequence[str]) -> None:
    """UPDATE ``fields`` of the rows found by ``key``; each row is the field values followed by the key values."""
    rows = list(rows)
    if not rows:
        return
    table, columns = _names(model, fields)
    keys = _names(model, key)[1]
    changes, where = ", ".join(f"{c} = %s" for c in columns), " AND ".join(f"{k} = %s" for k in keys)
    sql = f"UPDATE {table} SET {changes} WHERE {where}"
    prepare = _preparer(model, [*fields, *key])
    with connection.cursor() as cursor:
        cursor.executemany(sql, [prepare(r) for r in rows])


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"


def _names(model: type[models.Model], fields: Sequence[str]) -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), [quote(model._meta.get_field(f).column) for f in fields]  # type: ignore[union-attr]


def _preparer(model: type[models.Model], fields: Sequence[str]) -> Callable[[Row], Row]:
    """How a row's values become statement parameters on this database."""
    concrete = [model._meta.get_field(f) for f in fields]
    if connection.vendor == "postgresql":
        json_at = [i for i, f in enumerate(concrete) if isinstance(f, models.JSONField)]
        if not json_at:
            return lambda row: row

        def dump_json(row: Row) -> Row:
            if all(type(row[i]) is JsonText for i in json_at):  # already JSON text: no copy of the row
                return row
            values = list(row)
            for i in json_at:
                if values[i] is not None and type(values[i]) is not JsonText:
                    values[i] = _dumps(values[i])
            return values

        return dump_json
    preps = [_sqlite_prep(f) for f in concrete]
    return lambda row: [prep(value) for prep, value in zip(preps, row, strict=True)]


_dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(…, ensure_ascii=False) makes an encoder per call


def _sqlite_prep(field: Any) -> Callable[[Any], Any]:
    if isinstance(field, models.JSONField):
        return lambda value: str(value) if type(value) is JsonText else field.get_db_prep_save(value, connection)
    return lambda value: field.get_db_prep_save(value, connection)
