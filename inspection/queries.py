from django.db.models import QuerySet

from inspection import events
from inspection.models import Decision, Outcome
from port.models import User
from port.queries import customs_office_ids_for


def inspection_queue(*, user: User) -> QuerySet[Decision]:
    """Containers selected for inspection in the user's customs offices, oldest first."""
    return (
        Decision.objects.filter(inspection_area__customs_office_id__in=customs_office_ids_for(user))
        .exclude(outcome=Outcome.RELEASE)
        .select_related("container", "inspection_area", "declaration__enterprise")
        .order_by("created_at", "pk")
    )


def inspection_queue_live_group(user: User, key: str) -> str | None:
    """The live group of a customs office's queue, for that office's officers."""
    if not key.isdigit() or int(key) not in customs_office_ids_for(user):
        return None
    return events.queue_group(int(key))


def decisions_for_declaration(*, declaration_id: int) -> QuerySet[Decision]:
    return Decision.objects.filter(declaration_id=declaration_id).select_related("container")
