"""Two-stage access (两段准入): goods that involve quarantine or permits wait at the access
stage until its owner releases them, even when customs released the declaration.

`access_checks_open` gives a declaration that says "quarantine involved" or "permits
involved" one held check per stage when it is assessed (set-based, idempotent).
`access_check_decide` releases or refuses one stage: quarantine officers (role
`quarantine`) own quarantine, customs officers and supervisors own permits. While a stage is
not released, the gate refuses the container's gate-out (`access_holds`, read by
`services.container_is_released`) and the diversion sends it to the yard, never to ship-side
pickup or direct loading; its release re-plans the diversion.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import events as declaration_events
from declarations.models import Declaration
from inspection import diversion, events
from inspection.models import AccessCheck
from inspection.queries import access_holds
from port import live
from port.errors import InvalidInput, NotYours
from port.models import Membership, Organisation, TimelineEvent, User
from port.timeline import timeline_record, timeline_record_many
from port.transitions import transition

# Who decides each stage, by role in the customs office of the port.
DECIDERS = {
    AccessCheck.Kind.QUARANTINE: {Membership.Role.QUARANTINE, Membership.Role.SUPERVISOR},
    AccessCheck.Kind.PERMITS: {Membership.Role.OFFICER, Membership.Role.SUPERVISOR},
}


def access_checks_open(*, declaration_ids: list[int]) -> list[AccessCheck]:
    """One held check per flagged stage of each of these declarations that has none yet.

    The caller holds the declarations' locks (assessment), so a missing check cannot be
    inserted twice. Writes one timeline event per new check; tells the offices' lists. No
    query when none is given (the assessment passes only the flagged ones)."""
    if not declaration_ids:
        return []
    declarations = list(
        Declaration.objects.filter(pk__in=declaration_ids)
        .filter(Q(quarantine_involved=True) | Q(permits_involved=True))
        .values(
            "pk",
            "number",
            "quarantine_involved",
            "permits_involved",
            "enterprise_id",
            port_id=F("port_call__port_id"),
        )
    )
    wanted = {
        (row["pk"], kind): row
        for row in declarations
        for kind, flag in (
            (AccessCheck.Kind.QUARANTINE, row["quarantine_involved"]),
            (AccessCheck.Kind.PERMITS, row["permits_involved"]),
        )
        if flag
    }
    if not wanted:
        return []
    existing = set(
        AccessCheck.objects.filter(declaration_id__in={pk for pk, _kind in wanted}).values_list(
            "declaration_id", "kind"
        )
    )
    offices = _port_offices({row["port_id"] for row in wanted.values()})
    made = AccessCheck.objects.bulk_create(
        [
            AccessCheck(declaration_id=pk, kind=kind, customs_office_id=offices[row["port_id"]])
            for (pk, kind), row in wanted.items()
            if (pk, kind) not in existing and row["port_id"] in offices
        ]
    )
    rows = {row["pk"]: row for row in declarations}
    timeline_record_many(
        subjects=made,
        kind=TimelineEvent.Kind.ACCESS_HELD,
        organisation_id_for=lambda check: rows[check.declaration_id]["enterprise_id"],
        data_for=lambda check: {
            "declaration_id": check.declaration_id,
            "number": rows[check.declaration_id]["number"] or "",
            "stage": check.kind,
            "to": AccessCheck.Status.HELD,
        },
    )
    for office_id in {check.customs_office_id for check in made}:
        live.publish_on_commit(
            groups=[live.organisation_group(office_id)], event=events.access_changed(None)
        )
    return made


@transaction.atomic
def access_check_decide(
    *, check_id: int, officer: User, status: str, note: str = ""
) -> AccessCheck:
    """Release or refuse one access stage. Writes the check and its timeline event; after
    commit tells the officers' list and the declaration's watchers; a release that clears
    the last stage re-plans the containers' diversion. Raises NotYours (not an officer of
    the check's office), PermissionDenied (the wrong role for this stage), InvalidInput,
    TransitionNotAllowed."""
    check = (
        AccessCheck.objects.select_for_update(of=("self",))
        .select_related("declaration")
        .filter(pk=check_id)
        .first()
    )
    if check is None:
        raise NotYours()
    roles = set(
        Membership.objects.filter(
            user=officer, organisation_id=check.customs_office_id
        ).values_list("role", flat=True)
    )
    if not roles:
        raise NotYours()
    if not roles & DECIDERS[check.kind]:
        raise PermissionDenied(
            _("Quarantine officers decide the quarantine stage.")
            if check.kind == AccessCheck.Kind.QUARANTINE
            else _("Customs officers decide the permits stage.")
        )
    if status not in {AccessCheck.Status.RELEASED, AccessCheck.Status.REFUSED}:
        raise InvalidInput({"status": [_("Release or refuse.")]})
    note = (note or "").strip()
    if status == AccessCheck.Status.REFUSED and not note:
        raise InvalidInput({"note": [_("Say why the goods are refused.")]})
    check.decided_by, check.decided_at, check.note = officer, timezone.now(), note[:300]
    old = transition(check, status, extra_fields=["decided_by", "decided_at", "note"])
    declaration = check.declaration
    timeline_record(
        subject=check,
        kind=TimelineEvent.Kind.ACCESS_DECIDED,
        actor=officer,
        organisation=declaration.enterprise,
        data={
            "declaration_id": declaration.pk,
            "number": declaration.number or "",
            "stage": check.kind,
            "from": old,
            "to": status,
            "note": check.note,
        },
    )
    live.publish_on_commit(
        groups=[
            live.organisation_group(check.customs_office_id),
            *declaration_events.declaration_groups(declaration),
        ],
        event=events.access_changed(check),
    )
    if status == AccessCheck.Status.RELEASED and not access_holds(declaration_ids=[declaration.pk]):
        diversion.diversion_replan_after_decisions(
            port_call_id=declaration.port_call_id,
            container_ids=list(declaration.containers.values_list("pk", flat=True)),
        )
    return check


def _port_offices(port_ids: set[int]) -> dict[int, int]:
    """The first customs office of each port (the one that owns its access stage)."""
    offices: dict[int, int] = {}
    for port_id, office_id in (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port_id__in=port_ids)
        .order_by("pk")
        .values_list("port_id", "pk")
    ):
        offices.setdefault(port_id, office_id)
    return offices
