"""E-commerce participants and parcels for tests and benchmarks: one platform, one
e-commerce enterprise, a payment and a logistics enterprise, two declaring enterprises
(alice's and bob's), a site operator and a customs officer."""

from types import SimpleNamespace

from ecommerce.demo import parcel, resident_id  # noqa: F401 - the tests' parcels
from ecommerce.models import Participant, PositiveListEntry
from port.models import Membership, Organisation, User

R = Participant.Role


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


WAREHOUSE_USCC = "91440115MA59C1210X"


def bonded_zone(ec: SimpleNamespace, items: dict[str, tuple[str, int]]) -> SimpleNamespace:
    """A bonded zone where the logistics enterprise (the warehouse) holds `items`
    ({item_no: (hs_code, quantity)}), each brought in by one completed entry in the ledger."""
    from port.models import Port
    from zones.models import Movement, StockEntry, StockItem, Zone, ZoneEnterprise

    port = Port.objects.create(unlocode="CNNSA", name="Nansha")
    zone = Zone.objects.create(
        code="NSBZ", name="Nansha Bonded Zone", port=port, customs_office=ec.customs
    )
    ec.logistics.uscc = WAREHOUSE_USCC
    ec.logistics.save(update_fields=["uscc"])
    enterprise = ZoneEnterprise.objects.create(zone=zone, organisation=ec.logistics)
    entry = Movement.objects.create(
        zone=zone,
        organisation=ec.logistics,
        kind=Movement.Kind.DOMESTIC_IN,
        status=Movement.Status.COMPLETED,
        source=Movement.Source.API,
        created_by=ec.logistics_user,
    )
    for item_no, (hs_code, quantity) in items.items():
        item = StockItem.objects.create(
            zone=zone,
            organisation=ec.logistics,
            item_no=item_no,
            hs_code=hs_code,
            description=item_no,
            unit="pcs",
            quantity=quantity,
            value=quantity * 50,
        )
        StockEntry.objects.create(
            stock_item=item, movement=entry, quantity=quantity, value=quantity * 50
        )
    return SimpleNamespace(zone=zone, enterprise=enterprise)


def bonded(one: dict, *items: str, zone: str = "NSBZ", warehouse: str = WAREHOUSE_USCC) -> dict:
    """A parcel's list made a 1210 list drawing on the warehouse's `items` (one per line)."""
    one["list"].update(trade_mode="1210", zone=zone, warehouse=warehouse)
    one["list"]["goods"] = [
        dict(line, item_no=item_no)
        for line, item_no in zip(one["list"]["goods"], items, strict=True)
    ]
    return one


def exported(one: dict, mode: str = "9610", destination: str = "US", reference: str = "") -> dict:
    """A parcel's list made an export list (no buyer ID: the buyer is abroad) to
    `destination`; a 9710 list names its B2B order, a 9810 list its overseas warehouse."""
    one["list"].update(trade_mode=mode, direction="E", destination=destination)
    one["list"].pop("buyer_name", None), one["list"].pop("buyer_id", None)
    if mode == "9710":
        one["list"]["b2b_order_no"] = reference or f"B2B-{one['list']['list_no']}"
    if mode == "9810":
        one["list"]["overseas_warehouse"] = reference or "LAX-WH1"
    return one
