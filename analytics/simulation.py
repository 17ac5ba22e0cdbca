"""Live traffic for the demo port, through the same services every user goes through.

Each tick runs one step, chosen by weight from `STEPS`. A step is a function of the
simulation's random generator that calls one service and returns a line for the log, or
None when it had nothing to do. The assessment of a filing runs in the Celery worker, as
it does for a filing from the browser.

Extension point: vessels arriving and berthing, discharge and diversion, inspections
called and finished, gate-outs come from the shipping and inspection apps. Each adds a
step here (`STEPS.append((weight, step))`, or a line in the list) calling its own
service, e.g. `shipping.services.port_call_berth` and `inspection.services.inspection_release`.
"""

import datetime
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone
from stdnum import iso6346

from certificates import services as certificate_services
from declarations import services as declaration_services
from port.errors import InvalidInput
from port.models import Organisation, User
from port.queries import enterprises_filable_by, port_call_choices

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
    try:
        declaration = declaration_services.declaration_file(
            user=user,
            enterprise_id=enterprise.pk,
            port_call_id=rng.choice(calls).pk,
            bl_number=f"SIM{rng.randrange(10**10):010d}",
            container_numbers=[random_container(rng) for _ in range(rng.randint(1, 4))],
            items=[_item(rng, g, origin) for g in goods],
            direction="export" if exporting else "import",
            idempotency_key=f"simulate-{uuid.uuid4()}",
        )
    except InvalidInput as error:  # a random container number already in use, say
        return f"filing refused: {error.errors}"
    return (
        f"{user.username} filed {declaration.number} ({declaration.direction}, {len(goods)} lines)"
    )


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


Step = Callable[[random.Random], str | None]
# (weight, step): how often each happens relative to the others.
STEPS: list[tuple[int, Step]] = [
    (8, file_declaration),
    (1, apply_certificate),
]


def tick(rng: random.Random) -> str | None:
    weights, steps = zip(*STEPS, strict=True)
    step = rng.choices(steps, weights=weights)[0]
    return step(rng)
