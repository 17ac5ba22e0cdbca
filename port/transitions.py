from collections.abc import Iterable

from django.db import models

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
