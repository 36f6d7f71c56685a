"""Set-based database helpers shared by the services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def rows_update(objs: Iterable[Model], fields: Sequence[str]) -> int:
    """Write `fields` of many rows of one model in one statement.

    On PostgreSQL: one `UPDATE … FROM unnest(arrays)`, which costs a fraction of Django's
    bulk_update (that one builds a CASE/WHEN expression per row and field; measured 65 % less
    CPU at 10,000 schedules, see docs/performance.md). Elsewhere (SQLite for `make run`) it
    falls back to bulk_update. Like bulk_update it sends no signals and leaves auto_now alone.
    """
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, list(fields), batch_size=1000)
    meta = model._meta
    q = connection.ops.quote_name
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    ids = [o.pk for o in objs]
    arrays = [ids] + [
        [f.get_db_prep_save(getattr(o, f.attname), connection) for o in objs] for f in columns
    ]
    types = [pk.db_type(connection).replace("bigserial", "bigint").replace("serial", "integer")]
    types += [f.db_type(connection) for f in columns]
    names = [pk.column] + [f.column for f in columns]
    sql = (
        f"UPDATE {q(meta.db_table)} AS t SET "
        + ", ".join(f"{q(c)} = v.{q(c)}" for c in names[1:])
        + " FROM unnest("
        + ", ".join(f"%s::{t}[]" for t in types)
        + ") AS v("
        + ", ".join(q(c) for c in names)
        + f") WHERE t.{q(pk.column)} = v.{q(pk.column)}"
        # The ids again as an index condition: planned from the array's length rather than
        # unnest()'s default estimate, so the primary key index is used even on a table whose
        # statistics are stale (analysed while empty).
        + f" AND t.{q(pk.column)} = ANY(%s::{types[0]}[])"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*arrays, ids])
        return cursor.rowcount
