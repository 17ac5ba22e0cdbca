"""Export transit under electronic seal (出口转关 + 电子关锁): opened inland or at the zone
gate, written off at the port gate when the seal matches."""

from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alarms import services as alarm_services
from alarms.models import Alarm
from port.errors import InvalidInput
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record
from port.transitions import transition
from zones import queries, validation
from zones.models import (
    Transit,
)


@transaction.atomic
def transit_open(*, user: User, data: dict) -> Transit:
    """An exporter sends a container inland to the port under an electronic seal."""
    orgs = Organisation.objects.filter(
        memberships__user=user,
        memberships__role__in=queries.FILING_ROLES,
        kind=Organisation.Kind.ENTERPRISE,
    ).order_by("pk")
    org = orgs.first()
    if org is None:
        raise PermissionDenied(_("Only an enterprise's declarants open transits."))
    errors: dict = {}
    container = validation.container(data.get("container"), errors, "container", required=True)
    seal = validation.seal(data.get("seal"), errors, "seal", required=True)
    plate = validation.plate(data.get("truck_plate"), errors, required=False)
    origin = str(data.get("origin") or "").strip()
    if not origin or len(origin) > 100:
        errors["origin"] = [_("Say where the goods leave from (at most 100 characters).")]
    declaration = str(data.get("declaration_number") or "").strip()
    if declaration and not validation.DECLARATION_NUMBER.match(declaration):
        errors["declaration_number"] = [_("A declaration number has 18 digits.")]
    if (
        not errors
        and Transit.objects.filter(
            container_number=container, status=Transit.Status.IN_TRANSIT
        ).exists()
    ):
        errors["container"] = [_("This container is already in transit.")]
    if errors:
        raise InvalidInput(errors)
    return transit_open_for_movement(
        organisation_id=org.pk,
        container_number=container,
        seal_number=seal,
        truck_plate=plate,
        origin=origin,
        declaration_number=declaration,
        movement=None,
        actor=user,
    )


def transit_open_for_movement(
    *,
    organisation_id,
    container_number,
    seal_number,
    truck_plate,
    origin,
    declaration_number,
    movement,
    actor,
) -> Transit:
    transit = Transit.objects.create(
        organisation_id=organisation_id,
        container_number=container_number,
        seal_number=seal_number,
        truck_plate=truck_plate,
        origin=origin,
        declaration_number=declaration_number,
        movement=movement,
    )
    timeline_record(
        subject=transit,
        kind=TimelineEvent.Kind.TRANSIT_OPENED,
        actor=actor,
        organisation=Organisation(pk=organisation_id),
        data={"container": container_number, "seal": seal_number},
    )
    return transit


@transaction.atomic
def transit_seal_read(*, user: User, data: dict) -> Transit:
    """The port gate reads a container's electronic seal.

    Seal intact and the same as the transit's: the transit is written off and the
    container's gate-in is reported (which plans its diversion: direct loading when its
    export is released). Otherwise the transit is in alarm and customs gets a critical
    alarm. Raises InvalidInput when no transit is under way for the container.
    """
    terminal = queries.terminal_of(user)
    if terminal is None:
        raise PermissionDenied(_("Only a terminal operator reads seals at the port gate."))
    errors: dict = {}
    container = validation.container(data.get("container"), errors, "container", required=True)
    seal = validation.seal(data.get("seal"), errors, "seal", required=False)
    intact = data.get("seal_intact", True) is True
    plate = validation.plate(data.get("truck_plate"), errors, required=False)
    if errors:
        raise InvalidInput(errors)
    # Locked: two reads of the same container are decided one after the other.
    transit = (
        Transit.objects.select_for_update()
        .filter(container_number=container, status=Transit.Status.IN_TRANSIT)
        .filter(_bound_for(terminal))
        .first()
    )
    if transit is None:
        raise InvalidInput(
            {"container": [_("No transit under e-seal is under way for this container.")]}
        )
    transit.seal_read, transit.arrived_at = seal, timezone.now()
    if intact and seal == transit.seal_number:
        transit.terminal = terminal
        transition(
            transit,
            Transit.Status.WRITTEN_OFF,
            extra_fields=["seal_read", "arrived_at", "terminal"],
        )
        timeline_record(
            subject=transit,
            kind=TimelineEvent.Kind.TRANSIT_WRITTEN_OFF,
            actor=user,
            organisation=Organisation(pk=transit.organisation_id),
            data={"container": container, "seal": seal},
        )
        _gate_in(user, container, plate or transit.truck_plate)
        return transit
    transition(transit, Transit.Status.SEAL_ALARM, extra_fields=["seal_read", "arrived_at"])
    timeline_record(
        subject=transit,
        kind=TimelineEvent.Kind.TRANSIT_SEAL_MISMATCH,
        actor=user,
        organisation=Organisation(pk=transit.organisation_id),
        data={"container": container, "seal": seal, "intact": intact},
    )
    office = _port_office(terminal)
    if office is not None:
        alarm_services.alarm_raise(
            spec=alarm_services.AlarmSpec(
                kind=Alarm.Kind.SEAL_MISMATCH,
                severity=Alarm.Severity.CRITICAL,
                customs_office_id=office,
                dedupe_key=f"transit:{transit.pk}",
                subject=container,
                message=partial(
                    _seal_message, container, terminal.name, seal, intact, transit.seal_number
                ),
                data={"transit": transit.pk},
            )
        )
    return transit


def _seal_message(container, terminal, seal, intact, sealed) -> str:
    return _(
        "%(container)s reached %(terminal)s with seal %(read)s (%(state)s); it "
        "left under seal %(sealed)s."
    ) % {
        "container": container,
        "terminal": terminal,
        "read": seal or "—",
        "state": _("intact") if intact else _("broken"),
        "sealed": sealed,
    }


def _bound_for(terminal) -> Q:
    return Q(terminal__isnull=True) | Q(terminal=terminal)


def _gate_in(user: User, container: str, plate: str) -> None:
    from inspection import gate as port_gate

    try:
        with transaction.atomic():  # a savepoint: a container the port does not know
            port_gate.gate_report(
                user=user, container_number=container, direction="in", truck_plate=plate
            )
    except InvalidInput:
        pass  # written off all the same; the terminal reports its gate-in when it knows it


def _port_office(terminal) -> int | None:
    return (
        Organisation.objects.filter(kind=Organisation.Kind.CUSTOMS_OFFICE, port=terminal.port_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
