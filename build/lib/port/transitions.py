from collections.abc import Iterable

from django.db import models
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
    """Move every one of `objs` to status `new` in one UPDATE, if TRANSITIONS allow each.

    The batch form of `transition`, for a vessel's worth of rows: the caller holds the
    rows' locks, has set any `extra_fields`, and writes the timeline records (one insert,
    `timeline_record_many`) afterwards. Returns each object's old status by pk; raises
    TransitionNotAllowed for the first refused move and changes nothing.
    """
    for obj in objs:
        if new not in type(obj).TRANSITIONS[obj.status]:
            raise TransitionNotAllowed(obj=obj, old=obj.status, new=new)
    if not objs:
        return {}
    old = {obj.pk: obj.status for obj in objs}
    now = timezone.now()
    for obj in objs:
        obj.status = new
        obj.updated_at = now
    type(objs[0]).objects.bulk_update(objs, ["status", "updated_at", *extra_fields])
    return old
