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
