"""Live traffic for the demo port, through the same services every user goes through.

Each tick runs one step, chosen by weight from `STEPS`. A step is a function of the
simulation's random generator that calls one service and returns a line for the log, or
None when it had nothing to do. The assessment of a filing runs in the Celery worker, as
it does for a filing from the browser.

The port side runs through the shipping and inspection services: the agent announces
vessel calls with their cargo manifests (imports declare containers on them); vessels
berth, which plans their containers' diversion in the worker; the terminal reports
containers discharged and brings selected ones to the inspection area; officers call,
inspect and release them; trucks take released containers out of the gate (now and then
one that is not released, which the gate refuses); a vessel with nothing left aboard
departs. A new capability adds its step to `STEPS`.
"""

import datetime
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from stdnum import iso6346

from certificates import services as certificate_services
from declarations import queries as declaration_queries
from declarations import services as declaration_services
from ecommerce import demo as ecommerce_demo
from inspection import diversion
from inspection import gate as port_gate
from inspection import queries as inspection_queries
from inspection import services as inspection_services
from inspection.models import GateEvent
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Berth, Container, Organisation, PortCall, User
from port.queries import enterprises_filable_by, organisation_ids_for, port_call_choices
from shipping import cargo
from shipping import queries as shipping_queries
from shipping import services as shipping_services
from shipping.models import ManifestEntry
from zones import simulation as zone_simulation

OWNER_CODES = ["MSCU", "CSNU", "OOLU", "TGHU", "COSU", "EGHU", "CMAU"]


@dataclass(frozen=True)
class Goods:
    hs_code: str
    description: str
    unit: str
    quantity: tuple[int, int]
    value_per_unit: int


# Goods the risk rules release at once, and goods they select (seed_demo's rules).
RELEASED_IMPORTS = [
    Goods("8517620000", "Network switches", "pcs", (200, 4000), 900),
    Goods("9403600000", "Wooden furniture", "pcs", (50, 800), 1200),
    Goods("2204210000", "Red wine in bottles", "l", (2000, 20000), 60),
    Goods("0803901000", "Fresh bananas", "kg", (8000, 24000), 8),
]
SELECTED_IMPORTS = [
    Goods("0202300090", "Frozen boneless beef", "kg", (8000, 24000), 40),
    Goods("8479899990", "Used industrial machinery", "set", (1, 6), 250000),
]
EXPORTS = [
    Goods("6907210000", "Glazed ceramic floor tiles", "m2", (5000, 20000), 25),
    Goods("6109100000", "Cotton T-shirts", "pcs", (5000, 60000), 18),
    Goods("8708299000", "Car body parts", "pcs", (100, 2000), 400),
]
IMPORT_ORIGINS = ["AU", "BR", "DE", "US", "JP", "TH", "FR", "NZ", "CL"]


def random_container(rng: random.Random) -> str:
    base = f"{rng.choice(OWNER_CODES)}{rng.randrange(1_000_000):06d}"
    return base + iso6346.calc_check_digit(base)


def _item(rng: random.Random, goods: Goods, origin: str) -> declaration_services.ItemInput:
    quantity = rng.randint(*goods.quantity)
    return declaration_services.ItemInput(
        hs_code=goods.hs_code,
        description=goods.description,
        quantity=str(quantity),
        unit=goods.unit,
        value=str(quantity * goods.value_per_unit),
        origin_country=origin,
    )


def file_declaration(rng: random.Random) -> str | None:
    """A demo enterprise or the broker files an import or export declaration."""
    user = User.objects.get(username=rng.choice(["importer", "importer", "exporter", "broker"]))
    enterprise = rng.choice(list(enterprises_filable_by(user)))
    calls = list(port_call_choices())
    if not calls:
        return None  # no open vessel call: the shipping app announces them
    exporting = enterprise.name == "Fujian Sunrise Ceramics Export Co., Ltd." or rng.random() < 0.2
    if exporting:
        goods, origin = [rng.choice(EXPORTS)], "CN"
    else:
        pool = SELECTED_IMPORTS if rng.random() < 0.25 else RELEASED_IMPORTS
        goods, origin = (
            rng.sample(pool, k=min(len(pool), rng.randint(1, 2))),
            rng.choice(IMPORT_ORIGINS),
        )
    call = rng.choice(calls)
    try:
        declaration = declaration_services.declaration_file(
            user=user,
            enterprise_id=enterprise.pk,
            port_call_id=call.pk,
            bl_number=f"SIM{rng.randrange(10**10):010d}",
            container_numbers=_containers_to_declare(rng, call, rng.randint(1, 4), exporting),
            items=[_item(rng, g, origin) for g in goods],
            direction="export" if exporting else "import",
            header=_header(rng, call),
            idempotency_key=f"simulate-{uuid.uuid4()}",
        )
    except InvalidInput as error:  # a random container number already in use, say
        return f"filing refused: {error.errors}"
    return (
        f"{user.username} filed {declaration.number} ({declaration.direction}, {len(goods)} lines)"
    )


# Trade modes and how often each is declared (general trade dominates).
TRADE_MODES = ["0110"] * 14 + ["0214", "0615", "1233", "9610", "1210"]


def _header(rng: random.Random, call: PortCall) -> declaration_services.HeaderInput:
    """The trade mode; for a vessel still expected, often an advance filing, and then often
    with direct pickup at ship side or direct loading."""
    advance = call.status == PortCall.Status.EXPECTED and rng.random() < 0.6
    return declaration_services.HeaderInput(
        trade_mode=rng.choice(TRADE_MODES),
        is_advance=advance,
        direct_delivery=advance and rng.random() < 0.5,
    )


def _containers_to_declare(
    rng: random.Random, call: PortCall, count: int, exporting: bool
) -> list[str]:
    """An import declares containers on its vessel's manifest not yet declared (random
    ones when the manifest has none left); an export, containers of its own."""
    if not exporting:
        aboard = set(
            shipping_queries.manifest_for_call(port_call_id=call.pk).values_list(
                "container_number", flat=True
            )
        ) - declaration_queries.declared_container_numbers(port_call_id=call.pk)
        if aboard:
            return rng.sample(sorted(aboard), k=min(count, len(aboard)))
    return [random_container(rng) for _ in range(count)]


# The demo lines' vessels: (IMO number, name, call sign, flag, terminal).
FLEET = [
    ("9417402", "CSCL XIAMEN", "BVDB7", "CN", "XHCT"),
    ("9795610", "OOCL FUZHOU", "VRQE4", "HK", "SYCT"),
    ("9315678", "COSCO HAIXIA", "BQKL3", "CN", "XHCT"),
    ("9454981", "MSC JADE", "3FLM8", "PA", "SYCT"),
    ("9703112", "EVER LUCENT", "9V2KQ", "SG", "XHCT"),
]


def announce_vessel(rng: random.Random) -> str | None:
    """The shipping agent files the cargo manifest of an expected call that has none, or
    announces the next call of a vessel of the fleet not in port, with its manifest."""
    agent = User.objects.get(username="agent")
    call = (
        PortCall.objects.filter(status=PortCall.Status.EXPECTED, manifest_entries__isnull=True)
        .order_by("eta")
        .first()
    )
    if call is None:
        if PortCall.objects.filter(status=PortCall.Status.EXPECTED).count() >= 2:
            return None
        in_port = set(
            PortCall.objects.exclude(status=PortCall.Status.DEPARTED).values_list(
                "vessel__imo_number", flat=True
            )
        )
        free = [vessel for vessel in FLEET if vessel[0] not in in_port]
        if not free:
            return None
        imo, name, call_sign, flag, terminal = rng.choice(free)
        eta = timezone.now() + datetime.timedelta(hours=rng.uniform(1, 6))
        call = shipping_services.port_call_announce(
            user=agent,
            call=shipping_services.CallInput(
                imo_number=imo,
                vessel_name=name,
                voyage=f"{rng.randrange(100, 1000)}{rng.choice('EWNS')}",
                terminal=terminal,
                eta=eta,
                etd=eta + datetime.timedelta(hours=30),
                call_sign=call_sign,
                flag=flag,
            ),
        )
    lines = [
        cargo.ManifestLineInput(
            bl_number=f"SIMB{rng.randrange(10**8):08d}",
            container_number=random_container(rng),
            gross_weight_kg=str(rng.randrange(8_000, 28_000)),
            description="General cargo",
            size_type=rng.choice(["22G1", "45G1", "45R1"]),
        )
        for _ in range(rng.randint(30, 60))
    ]
    cargo.manifest_add_lines(
        user=agent, port_call_id=call.pk, lines=lines, source=ManifestEntry.Source.API
    )
    return (
        f"{call.vessel.name} {call.voyage} announced with {len(lines)} containers on its manifest"
    )


def depart_vessel(rng: random.Random) -> str | None:
    """A vessel alongside for a while sails once its terminal has reported everything
    discharged (at once, at a terminal whose operator does not report)."""
    call = (
        PortCall.objects.filter(
            status=PortCall.Status.BERTHED,
            ata__lt=timezone.now() - datetime.timedelta(minutes=2),
        )
        .select_related("terminal", "vessel")
        .order_by("ata")
        .first()
    )
    if call is None:
        return None
    reporting = call.terminal.operator_id is not None
    if reporting and inspection_queries.containers_awaiting_discharge(
        port_call_id=call.pk, limit=1
    ):
        return None
    shipping_services.port_call_mark_departed(
        port_call_id=call.pk, user=User.objects.get(username="portauth")
    )
    return f"{call.vessel.name} {call.voyage} departed"


def apply_certificate(rng: random.Random) -> str | None:
    """The exporter applies for a certificate of origin (Form E to an ASEAN buyer)."""
    exporter = User.objects.filter(
        username="exporter", memberships__organisation__kind=Organisation.Kind.ENTERPRISE
    ).first()
    if exporter is None:
        return None
    today = timezone.localdate()
    goods = rng.choice(EXPORTS)
    quantity = rng.randint(*goods.quantity)
    application = certificate_services.ApplicationInput(
        agreement="ACFTA",
        importer_name=rng.choice(
            ["Saigon Home Materials JSC", "Bangkok Tiles Co., Ltd.", "Manila Build Corp."]
        ),
        importing_country=rng.choice(["VN", "TH", "PH"]),
        invoice_number=f"SIM-{rng.randrange(10**6):06d}",
        invoice_date=today - datetime.timedelta(days=2),
        departure_date=today,
        port_of_loading="CNXMN",
        vessel_name="CSCL XIAMEN",
        producer="Dehua Sunrise Ceramics Factory",
        items=[
            certificate_services.ItemInput(
                hs_code=goods.hs_code,
                description=goods.description,
                packages=max(1, quantity // 20),
                quantity=str(quantity),
                origin_criterion="WO",
                fob_value=str(quantity * goods.value_per_unit),
            )
        ],
    )
    try:
        certificate = certificate_services.certificate_apply(
            user=exporter, application=application, idempotency_key=f"simulate-{uuid.uuid4()}"
        )
    except InvalidInput as error:
        return f"certificate refused: {error.errors}"
    return f"exporter applied for a certificate: {certificate.get_status_display()}"


def berth_vessel(rng: random.Random) -> str | None:
    """An expected vessel comes alongside a free berth of its terminal: first one already
    past its ETA (the demo port's own calls, on a fresh start), then one whose manifest is
    filed."""
    expected = port_call_choices().filter(status=PortCall.Status.EXPECTED)
    call = (
        expected.filter(eta__lte=timezone.now()).order_by("eta").first()
        or expected.filter(manifest_entries__isnull=False).distinct().first()
    )
    if call is None:
        return None
    taken = PortCall.objects.filter(status=PortCall.Status.BERTHED).values("berth_id")
    berth = (
        Berth.objects.filter(terminal=call.terminal_id)
        .exclude(pk__in=taken)
        .order_by("code")
        .first()
    )
    if berth is None:
        return None
    shipping_services.port_call_mark_berthed(
        port_call_id=call.pk, user=User.objects.get(username="portauth"), berth_id=berth.pk
    )
    return f"{call.vessel.name} berthed at {call.terminal.code} {berth.code}"


def discharge_containers(rng: random.Random) -> str | None:
    """The terminal lifts a few containers off a vessel at berth and reports them."""
    terminal = User.objects.get(username="terminal")
    call = (
        PortCall.objects.filter(
            status=PortCall.Status.BERTHED, terminal__operator_id__in=organisation_ids_for(terminal)
        )
        .order_by("?")
        .first()
    )
    numbers = call and inspection_queries.containers_awaiting_discharge(
        port_call_id=call.pk, limit=rng.randint(2, 8)
    )
    if not numbers:
        return None
    diversion.containers_report_discharged(
        user=terminal, port_call_id=call.pk, container_numbers=numbers
    )
    return f"{len(numbers)} containers discharged from {call.vessel.name}"


def container_to_inspection(rng: random.Random) -> str | None:
    """The terminal brings a selected container to the inspection area: it gets a ticket.
    An import comes once it is off the ship; an export comes in by truck."""
    officer = User.objects.get(username="officer")
    decision = (
        inspection_queries.selected_awaiting_arrival(user=officer)
        .filter(
            Q(declaration__direction="export")
            | Q(container__diversion_instructions__discharged_at__isnull=False)
        )
        .first()
    )
    if decision is None:
        return None
    ticket = inspection_services.inspection_report_arrival(
        user=User.objects.get(username="terminal"), container_number=decision.container.number
    )
    return f"{decision.container.number} at the inspection area, ticket {ticket.ticket}"


def inspect_next(rng: random.Random) -> str | None:
    """An officer calls the next ticket, inspects the container and releases it."""
    officer = User.objects.get(username="officer")
    area = inspection_queries.areas_for(officer).first()
    ticket = area and inspection_services.inspection_call_next(area_id=area.pk, officer=officer)
    if not ticket:
        return None
    inspection_services.inspection_start(inspection_id=ticket.pk, officer=officer)
    inspection_services.inspection_record(
        inspection_id=ticket.pk, officer=officer, result="conforming", findings="As declared"
    )
    inspection_services.inspection_finish(
        inspection_id=ticket.pk, officer=officer, status="released"
    )
    return f"ticket {ticket.ticket} inspected and released"


def gate_out(rng: random.Random) -> str | None:
    """A truck takes an imported container that is off the ship and still in the terminal
    out of the gate: usually a released one, now and then one that is not."""
    importer = User.objects.get(username="importer")
    wanted = "submitted" if rng.random() < 0.05 else "released"
    declarations = declaration_queries.declaration_list(user=importer).filter(
        status=wanted, direction="import"
    )
    gone = GateEvent.objects.filter(direction="out", allowed=True).values("container_id")
    number = (
        Container.objects.filter(
            declarations__in=declarations, diversion_instructions__discharged_at__isnull=False
        )
        .exclude(pk__in=gone)
        .order_by("?")
        .values_list("number", flat=True)
        .first()
    )
    if number is None:
        return None
    try:
        event = port_gate.gate_report(
            user=User.objects.get(username="terminal"),
            container_number=number,
            direction="out",
            truck_plate=f"闽D{rng.randrange(10**5):05d}",
        )
    except (InvalidInput, TransitionNotAllowed) as error:
        return f"gate report refused: {error}"
    return f"gate-out {number}: {'passed' if event.allowed else 'refused'}"


Step = Callable[[random.Random], str | None]
# (weight, step): how often each happens relative to the others.
STEPS: list[tuple[int, Step]] = [
    (8, file_declaration),
    (1, apply_certificate),
    (1, announce_vessel),
    (1, berth_vessel),
    (3, discharge_containers),
    (1, depart_vessel),
    (3, container_to_inspection),
    (3, inspect_next),
    (3, gate_out),
    (2, ecommerce_demo.simulate_step),
    (2, zone_simulation.zone_truck),
]


def tick(rng: random.Random) -> str | None:
    """Run one step. A step the services refuse (a container of another terminal, say)
    is reported and the traffic goes on, as it would at a real port."""
    weights, steps = zip(*STEPS, strict=True)
    step = rng.choices(steps, weights=weights)[0]
    try:
        return step(rng)
    except (InvalidInput, TransitionNotAllowed, NotYours, PermissionDenied) as error:
        return f"{step.__name__} refused: {getattr(error, 'errors', error)}"
