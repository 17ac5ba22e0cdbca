from collections.abc import Iterable

from django.db import connection, models
from django.utils import timezone

from port.errors import TransitionNotAllowed


def transition(obj: models.Model, new: str, *, extra_fields: Iterable[str] = ()) -> str:
    """Move `obj` to status `new` if its model's TRANSITIONS allow it, and save.

    The caller holds the row's lock, has set any `extra_fields` already, and writes the
    timeline record and schedules its live push afterwards. Returns the old status;
    raises TransitionNotAllowed and changes nothing when the move is not allowed.
    """
    old = obj.status
    if new not in type(obj).TRANSITIONS[old]:
        raise TransitionNotAllowed(obj=obj, old=old, new=new)
    obj.status = new
    obj.save(update_fields=["status", "updated_at", *extra_fields])
    return old


def transition_many(
    objs: list[models.Model], new: str, *, extra_fields: Iterable[str] = ()
) -> dict:
    """Move every one of `objs` to status `new` set-based, if TRANSITIONS allow each.

    The batch form of `transition`, for a vessel's worth of rows: the caller holds the
    rows' locks, has set any `extra_fields`, and writes the timeline records (one insert,
    `timeline_record_many`) afterwards. Returns each object's old status by pk; raises
    TransitionNotAllowed for the first refused move and changes nothing.

    One `UPDATE … WHERE id = ANY(ids)` when the extra fields are the same on every object,
    else `UPDATE … FROM (VALUES …)` in chunks; never Django's `bulk_update`, whose
    `CASE WHEN` per row and column had PostgreSQL's JIT compile one statement for minutes.
    """
    for obj in objs:
        if new not in type(obj).TRANSITIONS[obj.status]:
            raise TransitionNotAllowed(obj=obj, old=obj.status, new=new)
    if not objs:
        return {}
    model = type(objs[0])
    old = {obj.pk: obj.status for obj in objs}
    now = timezone.now()
    for obj in objs:
        obj.status = new
        obj.updated_at = now
    fields = [model._meta.get_field(name) for name in extra_fields]
    shared = {}
    for field in fields:
        values = {repr(getattr(obj, field.attname)) for obj in objs}
        if len(values) == 1:
            shared[field.attname] = getattr(objs[0], field.attname)
    varying = [field for field in fields if field.attname not in shared]
    if not varying:
        model._base_manager.filter(pk__any=list(old)).update(status=new, updated_at=now, **shared)
        return old
    for start in range(0, len(objs), _CHUNK):
        _update_from_values(model, objs[start : start + _CHUNK], new, now, shared, varying)
    return old


_CHUNK = 1000


def _update_from_values(model, objs, new: str, now, shared: dict, varying: list) -> None:
    """`UPDATE table SET status, updated_at, shared values, varying = v.varying FROM
    (VALUES (pk, varying…), …) AS v WHERE pk = v.pk`: one statement, one row per object."""
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.pk, *varying]
    cell = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    params = [new, now]
    sets = [f"{quote(meta.get_field('status').column)} = %s"]
    sets.append(f"{quote(meta.get_field('updated_at').column)} = %s")
    for attname, value in shared.items():
        field = meta.get_field(attname)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    sets += [f"{quote(field.column)} = v.{quote(field.column)}" for field in varying]
    for obj in objs:
        params += [
            field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns
        ]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(sets)} "  # noqa: S608 - our names
        f"FROM (VALUES {', '.join([cell] * len(objs))}) "
        f"AS v({', '.join(quote(field.column) for field in columns)}) "
        f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
