"""Summary declarations of e-commerce export lists (清单核放、汇总申报).

Export parcels leave one by one, each cleared by its inventory list (the ecommerce app);
once a month each e-commerce enterprise's released lists are declared in one export
declaration per trade mode and destination, its lines summed per commodity code. The
parcels left on many vessels: such a declaration names no port call and no containers, and
it is filed released (its goods were cleared list by list).

A set of summaries is written in a constant number of statements, whatever its size.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from declarations import events
from declarations.models import Declaration, DeclarationItem
from port import live
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record_many

CENT = Decimal("0.01")


@dataclass
class ListSummaryInput:
    """One summary: whose exports, under which trade mode, to where, and its lines as
    (hs_code, description, quantity, value in CNY)."""

    enterprise_id: int
    trade_mode: str  # 9610, 9710 or 9810
    destination: str  # ISO 3166 alpha-2
    reference: str  # unique per enterprise: a repeat files nothing twice
    lists: int
    lines: list[tuple[str, str, int, Decimal]] = field(default_factory=list)


@transaction.atomic
def list_summaries_file(
    *, summaries: list[ListSummaryInput], user: User | None
) -> list[Declaration]:
    """File the summary declarations of a month's e-commerce export lists, released.

    Writes the declarations (enterprise and declarant the e-commerce enterprise, no port
    call, `trading_country` the destination, the number from the declaration serial and
    the customs office of the enterprise's port), their items, a filed and a status event
    each, and one live message per organisation. `user` is None when the beat files them.
    The caller makes sure a summary is filed once (`reference` is also the declaration's
    idempotency key: the unique constraint refuses a second).
    """
    if not summaries:
        return []
    now = timezone.now()
    numbers = _numbers(summaries, now)
    declarations = Declaration.objects.bulk_create(
        Declaration(
            number=number,
            direction=Declaration.Direction.EXPORT,
            kind=Declaration.Kind.FULL,
            enterprise_id=s.enterprise_id,
            declarant_id=s.enterprise_id,
            created_by=user,
            port_call=None,
            bl_number="",
            trade_mode=s.trade_mode,
            trading_country=s.destination,
            currency="CNY",
            invoice_total=sum((value for *_x, value in s.lines), Decimal(0)),
            packages=s.lists,
            status=Declaration.Status.RELEASED,
            idempotency_key=s.reference,
            submitted_at=now,
            decided_at=now,
        )
        for s, number in zip(summaries, numbers, strict=True)
    )
    DeclarationItem.objects.bulk_create(
        DeclarationItem(
            declaration=declaration,
            line_number=line_number,
            hs_code=hs_code,
            description=description[:250],
            quantity=quantity,
            unit=DeclarationItem.Unit.PCS,
            value=value,
            origin_country="CN",
            unit_price=(value / quantity).quantize(Decimal("0.0001")),
        )
        for s, declaration in zip(summaries, declarations, strict=True)
        for line_number, (hs_code, description, quantity, value) in enumerate(s.lines, start=1)
    )
    _record(declarations, summaries, user)
    return declarations


def _numbers(summaries: list[ListSummaryInput], now) -> list[str]:
    """18 digits as any declaration's: the customs office of the enterprise's port (0000
    when none), the year, 0 for export, the serial; one query for the offices, one for the
    serials."""
    ports = dict(
        Organisation.objects.filter(pk__in={s.enterprise_id for s in summaries}).values_list(
            "pk", "port_id"
        )
    )
    offices: dict[int, str] = {}
    for port_id, code in (
        Organisation.objects.filter(
            kind=Organisation.Kind.CUSTOMS_OFFICE, port_id__in={p for p in ports.values() if p}
        )
        .exclude(office_code="")
        .order_by("pk")
        .values_list("port_id", "office_code")
    ):
        offices.setdefault(port_id, code)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('declaration_number_serial') FROM generate_series(1, %s)",
            [len(summaries)],
        )
        serials = [r[0] for r in cursor.fetchall()]
    year = timezone.localdate(now).year
    return [
        f"{offices.get(ports.get(s.enterprise_id), '0000')}{year}0{serial:09d}"
        for s, serial in zip(summaries, serials, strict=True)
    ]


def _record(declarations: list[Declaration], summaries: list[ListSummaryInput], user) -> None:
    by_id = {d.pk: s for d, s in zip(declarations, summaries, strict=True)}
    timeline_record_many(
        subjects=declarations,
        kind=TimelineEvent.Kind.DECLARATION_FILED,
        actor=user,
        organisation_id_for=lambda d: d.enterprise_id,
        data_for=lambda d: {
            "containers": [],
            "items": len(by_id[d.pk].lines),
            "lists": by_id[d.pk].lists,
            "summary_of": by_id[d.pk].reference,
        },
    )
    timeline_record_many(
        subjects=declarations,
        kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
        actor=user,
        organisation_id_for=lambda d: d.enterprise_id,
        data_for=lambda d: {
            "from": Declaration.Status.DRAFT,
            "to": Declaration.Status.RELEASED,
            "note": "e-commerce export lists cleared one by one",
        },
    )
    for enterprise_id in sorted({d.enterprise_id for d in declarations}):
        mine = [d for d in declarations if d.enterprise_id == enterprise_id]
        live.publish_on_commit(
            groups=[live.organisation_group(enterprise_id)],
            event=events.declarations_filed(mine),
        )
