"""E-commerce participants and parcels for tests and benchmarks: one platform, one
e-commerce enterprise, a payment and a logistics enterprise, two declaring enterprises
(alice's and bob's), a site operator and a customs officer."""

from datetime import date, timedelta
from types import SimpleNamespace

from ecommerce.models import Participant, PositiveListEntry
from port.models import Membership, Organisation, User

R = Participant.Role
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(serial: int) -> str:
    """A valid 18-character resident ID number (check digit included) for a serial."""
    born = date(1970, 1, 1) + timedelta(days=serial // 1000 % 15000)
    body = f"110105{born:%Y%m%d}{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _org(name: str, kind=Organisation.Kind.ENTERPRISE, uscc: str = "") -> Organisation:
    return Organisation.objects.create(name=name, kind=kind)


def _user(username: str, organisation: Organisation, role=Membership.Role.DECLARANT) -> User:
    user = User.objects.create_user(username=username, password="x")  # noqa: S106
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def world() -> SimpleNamespace:
    platform = _org("Tianmao Global")
    enterprise = _org("Nansha Beauty Trading")
    payment = _org("Alipay Cross-border")
    logistics = _org("Cainiao Logistics")
    declarant = _org("Nansha Declaring Services")
    other = _org("Other Declarant Co.")
    site = _org("Nansha Supervision Site", Organisation.Kind.TERMINAL_OPERATOR)
    customs = _org("Nansha Customs", Organisation.Kind.CUSTOMS_OFFICE)
    for organisation, role, code in [
        (platform, R.PLATFORM, "PLAT01"),
        (enterprise, R.ENTERPRISE, "ENT01"),
        (payment, R.PAYMENT, "PAY01"),
        (logistics, R.LOGISTICS, "LOG01"),
        (declarant, R.DECLARANT, "DEC01"),
        (other, R.DECLARANT, "DEC02"),
        (site, R.SITE_OPERATOR, "SITE01"),
    ]:
        Participant.objects.create(organisation=organisation, role=role, code=code)
    for prefix, category, consumption in [
        ("3304", "cosmetics", 1500),
        ("1901", "milk powder", 0),
        ("6403", "footwear", 0),
    ]:
        PositiveListEntry.objects.create(
            hs_prefix=prefix, category=category, consumption_bp=consumption
        )
    return SimpleNamespace(
        platform=platform,
        enterprise=enterprise,
        payment=payment,
        logistics=logistics,
        declarant=declarant,
        other=other,
        site=site,
        customs=customs,
        platform_user=_user("plat", platform),
        enterprise_user=_user("ent", enterprise),
        payment_user=_user("pay", payment),
        logistics_user=_user("log", logistics),
        alice=_user("alice", declarant),
        bob=_user("bob", other),
        operator=_user("site", site, Membership.Role.OPERATOR),
        officer=_user("officer1", customs, Membership.Role.OFFICER),
        charlie=_user("charlie", _org("Unrelated Co.")),
    )


def parcel(
    n: int,
    *,
    buyer: int | None = None,
    unit_price: str = "100.00",
    quantity: int = 2,
    hs_code: str = "3304990000",
    freight: str = "10.00",
    mode: str = "9610",
) -> dict:
    """The four documents of one parcel, agreeing with each other."""
    buyer_id = resident_id(n if buyer is None else buyer)
    name = f"买家{(n if buyer is None else buyer) % 1000}"
    goods = [{"hs_code": hs_code, "name": "goods", "quantity": quantity, "unit_price": unit_price}]
    from decimal import Decimal

    amount = str(Decimal(unit_price) * quantity + Decimal(freight))
    order_no, waybill_no = f"O{n:09d}", f"W{n:09d}"
    return {
        "order": {
            "order_no": order_no,
            "platform": "PLAT01",
            "enterprise": "ENT01",
            "buyer_name": name,
            "buyer_id": buyer_id,
            "freight": freight,
            "goods": goods,
        },
        "payment": {
            "payment_no": f"P{n:09d}",
            "order_no": order_no,
            "platform": "PLAT01",
            "buyer_name": name,
            "buyer_id": buyer_id,
            "amount": amount,
        },
        "waybill": {"waybill_no": waybill_no, "order_no": order_no, "platform": "PLAT01"},
        "list": {
            "list_no": f"L{n:09d}",
            "order_no": order_no,
            "waybill_no": waybill_no,
            "trade_mode": mode,
            "platform": "PLAT01",
            "enterprise": "ENT01",
            "logistics": "LOG01",
            "buyer_name": name,
            "buyer_id": buyer_id,
            "freight": freight,
            "goods": goods,
        },
    }
