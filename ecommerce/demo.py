"""Demo e-commerce traffic: the participants, the positive list and a list rule of the demo
port, parcels made up from a serial number, and the simulator's step."""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from declarations.two_step import guarantee_account_set
from ecommerce import decision, intake, services, tax_months
from ecommerce.models import (
    InventoryList,
    ListRiskRule,
    ListRuleSet,
    Participant,
    PositiveListEntry,
)

R = Participant.Role
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

POSITIVE_LIST = [
    ("3304", "cosmetics", 1300, 1500),
    ("3303", "perfume", 1300, 1500),
    ("1901", "milk powder", 1300, 0),
    ("2106", "health food", 1300, 0),
    ("6403", "footwear", 1300, 0),
    ("8509", "small appliances", 1300, 0),
]
GOODS = [
    ("3304990000", "100.00"),
    ("1901101000", "268.00"),
    ("6403990000", "599.00"),
    ("2106909090", "158.00"),
    ("3303000000", "820.00"),
    ("8509800000", "1299.00"),
]


def resident_id(serial: int) -> str:
    """A made-up resident ID number with a valid birth date and check digit."""
    born = date(1970, 1, 1) + timedelta(days=serial // 1000 % 15000)
    body = f"110105{born:%Y%m%d}{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def parcel(
    n: int,
    *,
    buyer: int | None = None,
    unit_price: str = "100.00",
    quantity: int = 2,
    hs_code: str = "3304990000",
    freight: str = "10.00",
    mode: str = "9610",
    codes: dict | None = None,
) -> dict:
    """The four documents of one parcel, agreeing with each other."""
    codes = codes or {"platform": "PLAT01", "enterprise": "ENT01", "logistics": "LOG01"}
    buyer_serial = n if buyer is None else buyer
    buyer_id, name = resident_id(buyer_serial), f"买家{buyer_serial % 1000}"
    goods = [{"hs_code": hs_code, "name": "goods", "quantity": quantity, "unit_price": unit_price}]
    amount = str(Decimal(unit_price) * quantity + Decimal(freight))
    order_no, waybill_no = f"O{n:09d}", f"W{n:09d}"
    platform = codes["platform"]
    return {
        "order": {
            "order_no": order_no,
            "platform": platform,
            "enterprise": codes["enterprise"],
            "buyer_name": name,
            "buyer_id": buyer_id,
            "freight": freight,
            "goods": goods,
        },
        "payment": {
            "payment_no": f"P{n:09d}",
            "order_no": order_no,
            "platform": platform,
            "buyer_name": name,
            "buyer_id": buyer_id,
            "amount": amount,
        },
        "waybill": {"waybill_no": waybill_no, "order_no": order_no, "platform": platform},
        "list": {
            "list_no": f"L{n:09d}",
            "order_no": order_no,
            "waybill_no": waybill_no,
            "trade_mode": mode,
            "platform": platform,
            "enterprise": codes["enterprise"],
            "logistics": codes["logistics"],
            "buyer_name": name,
            "buyer_id": buyer_id,
            "freight": freight,
            "goods": goods,
        },
    }


DEMO_CODES = {"platform": "XMTM01", "enterprise": "XMEC01", "logistics": "XMLG01"}


@transaction.atomic
def demo_set_up(
    *, platform, enterprise, payment, logistics, declarant, site, parcels: bool = True
) -> None:
    """The demo port's e-commerce: participants, positive list, one list rule, and sixty
    parcels filed and decided. Idempotent."""
    for organisation, role, code in [
        (platform, R.PLATFORM, DEMO_CODES["platform"]),
        (enterprise, R.ENTERPRISE, DEMO_CODES["enterprise"]),
        (payment, R.PAYMENT, "XMPY01"),
        (logistics, R.LOGISTICS, DEMO_CODES["logistics"]),
        (logistics, R.DECLARANT, "XMDC01"),
        (declarant, R.DECLARANT, "XMDC02"),
        (site, R.SITE_OPERATOR, "XMST01"),
    ]:
        Participant.objects.update_or_create(
            organisation=organisation, role=role, defaults={"code": code}
        )
    for prefix, category, vat, consumption in POSITIVE_LIST:
        PositiveListEntry.objects.update_or_create(
            hs_prefix=prefix,
            retired_at=None,  # an officer may have retired an earlier entry of the prefix
            defaults={"category": category, "vat_bp": vat, "consumption_bp": consumption},
        )
    ListRiskRule.objects.update_or_create(
        name="Perfume sampling",
        defaults={
            "public_reason": "Random check of perfume",
            "action": "manual",
            "sampling_rate": Decimal("0.3"),
            "categories": ["perfume"],
        },
    )
    if not ListRuleSet.objects.exists():
        services.list_rule_set_activate(officer=None)
    if parcels and not InventoryList.objects.filter(declarant=declarant).exists():
        guarantee_account_set(enterprise=enterprise, quota=Decimal("20000.00"))
        file_parcels(random.Random(11), declarant=declarant, first=1, count=60)  # noqa: S311
        _a_closed_month(enterprise)


def _a_closed_month(enterprise) -> None:
    """A third of the demo's released lists moved to the month before last, whose return
    window has closed, and its tax month issued: the enterprise has a month to pay."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - 2
    day = timezone.make_aware(datetime(index // 12, index % 12 + 1, 12, 10))  # noqa: DTZ001
    moved = InventoryList.objects.filter(
        enterprise=enterprise, status=InventoryList.Status.RELEASED
    ).order_by("pk")[:20]
    InventoryList.objects.filter(pk__in=list(moved.values_list("pk", flat=True))).update(
        decided_at=day, created_at=day - timedelta(minutes=3)
    )
    tax_months.tax_months_issue()


def file_parcels(rng: random.Random, *, declarant, first: int, count: int, decide: bool = True):
    """File `count` parcels' documents, each kind as one batch, in a shuffled order (lists
    may arrive before their documents and wait). With `decide`, decide each batch here."""
    participants = dict(
        Participant.objects.filter(code__in=[*DEMO_CODES.values(), "XMPY01"]).values_list(
            "code", "organisation_id"
        )
    )
    parcels = []
    for n in range(first, first + count):
        hs_code, price = rng.choice(GOODS)
        parcels.append(
            parcel(
                n,
                buyer=rng.randrange(5000),
                hs_code=hs_code,
                unit_price=price,
                quantity=rng.randint(1, 3),
                codes=DEMO_CODES,
            )
        )
    filers = {
        "order": participants["XMTM01"],
        "payment": participants["XMPY01"],
        "waybill": participants["XMLG01"],
        "list": declarant.pk,
    }
    kinds = list(filers)
    rng.shuffle(kinds)
    for kind in kinds:
        result = intake.batch_file(
            kind=kind, organisation_id=filers[kind], items=[p[kind] for p in parcels]
        )
        if decide:
            decision.batch_decide(batch_id=result.batch_id)


def simulate_step(rng: random.Random) -> str | None:
    """A burst of parcels (the decision runs in the worker), or a scan at the sorting line."""
    declarant = Participant.objects.filter(code="XMDC02").select_related("organisation").first()
    if declarant is None:
        return None
    if rng.random() < 0.5:
        waybill = (
            InventoryList.objects.filter(declarant=declarant.organisation)
            .order_by("-id")
            .values_list("waybill_no", flat=True)[rng.randrange(50) : rng.randrange(50) + 1]
        )
        number = next(iter(waybill), "W-UNKNOWN")
        return f"sorting line {number}: {services.sorting_scan(waybill_no=number)}"
    last = InventoryList.objects.order_by("-id").values_list("list_no", flat=True).first()
    first = int(last[1:]) + 1 if last and last[1:].isdigit() else 1
    count = rng.randint(10, 60)
    file_parcels(rng, declarant=declarant.organisation, first=first, count=count, decide=False)
    return f"e-commerce: {count} parcels filed"
