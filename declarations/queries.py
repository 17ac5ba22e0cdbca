from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.http import Http404

from certificates import queries as certificate_queries
from declarations import events
from declarations.filters import DeclarationFilter
from declarations.models import (
    Declaration,
    DeclarationContainer,
    DeclarationItem,
    ErpUpload,
    GuaranteeAccount,
)
from port.models import User
from port.queries import enterprises_filable_by, organisation_ids_for

# The containers' decisions shown on a declaration's page belong to the app that makes them
# (inspection), which registers its reader here in `AppConfig.ready`, as it registers its
# berthing hook with shipping: the declarations app never imports inspection. A reader
# takes the declaration and returns its decisions, each with `whereabouts` set.
DECISION_READERS: list[Callable] = []


# What other apps add to a declaration's page for the user who reads it (inspection: the
# enterprise's tickets and the access stage), registered the same way. A reader takes the
# user and the declaration and returns context entries.
DETAIL_READERS: list[Callable] = []


def declaration_detail_extras(*, user: User, declaration: Declaration) -> dict:
    extras: dict = {}
    for reader in DETAIL_READERS:
        extras.update(reader(user, declaration))
    return extras


def declaration_decisions(*, declaration: Declaration) -> list:
    """The decisions on each of the declaration's containers, from the registered readers."""
    return [decision for reader in DECISION_READERS for decision in reader(declaration)]


def declaration_list(*, user: User, filters: dict | None = None) -> QuerySet[Declaration]:
    """Declarations the user's organisations own or filed, newest first, filtered."""
    org_ids = organisation_ids_for(user)
    declarations = (
        Declaration.objects.filter(Q(enterprise_id__in=org_ids) | Q(declarant_id__in=org_ids))
        .select_related("enterprise", "declarant", "port_call__vessel")
        .prefetch_related("containers")
        .order_by("-created_at", "-id")
    )
    if filters is not None:
        declarations = DeclarationFilter(filters, queryset=declarations).qs
    return declarations


def declaration_filter_form(*, user: User, filters: dict):
    """The bound filter set, for the list page's filter form."""
    return DeclarationFilter(filters, queryset=declaration_list(user=user))


def summaries_awaiting_step2(*, user: User) -> QuerySet[Declaration]:
    """Released summaries the user may file step 2 for, soonest due first."""
    return (
        Declaration.objects.filter(
            kind=Declaration.Kind.SUMMARY,
            status=Declaration.Status.RELEASED,
            enterprise__in=enterprises_filable_by(user),
        )
        .select_related("enterprise")
        .order_by("full_due_at", "pk")
    )


def guarantee_accounts_for(*, user: User) -> QuerySet[GuaranteeAccount]:
    return GuaranteeAccount.objects.filter(
        enterprise__in=enterprises_filable_by(user)
    ).select_related("enterprise")


def guarantee_available(*, enterprise_id: int) -> tuple[Decimal, Decimal] | None:
    """(quota, drawn) of an enterprise's guarantee, or None: e-commerce's monthly tax bill."""
    return (
        GuaranteeAccount.objects.filter(enterprise_id=enterprise_id)
        .values_list("quota", "used")
        .first()
    )


def erp_upload_list(*, user: User) -> QuerySet[ErpUpload]:
    return ErpUpload.objects.filter(declarant_id__in=organisation_ids_for(user)).defer("content")


def erp_upload_get_for_user(*, user: User, upload_id: int) -> ErpUpload:
    try:
        return erp_upload_list(user=user).get(pk=upload_id)
    except (ErpUpload.DoesNotExist, ValueError, TypeError):
        raise Http404("No such upload") from None


def erp_upload_live_group(user: User, key: str) -> str | None:
    if not key.isdigit() or not erp_upload_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.upload_group(int(key))


def declaration_get_for_user(*, user: User, declaration_id: int) -> Declaration:
    """The declaration with its items and containers; Http404 when it is not the user's."""
    try:
        return (
            declaration_list(user=user)
            .select_related("port_call__terminal", "port_call__port", "created_by")
            .prefetch_related(
                Prefetch("items", queryset=DeclarationItem.objects.order_by("line_number"))
            )
            .get(pk=declaration_id)
        )
    except (Declaration.DoesNotExist, ValueError, TypeError):
        raise Http404("No such declaration") from None


def declaration_live_group(user: User, key: str) -> str | None:
    """The live group of a declaration, for a user allowed to watch it."""
    if not key.isdigit():
        return None
    if not declaration_list(user=user).filter(pk=int(key)).exists():
        return None
    return events.declaration_group(int(key))


def declarations_for_assessment() -> QuerySet[Declaration]:
    """Declarations with what the risk rules read, in a fixed number of queries."""
    return Declaration.objects.select_related("port_call__terminal", "enterprise").prefetch_related(
        "items", "containers"
    )


def declaration_for_assessment(*, declaration_id: int) -> Declaration:
    return declarations_for_assessment().get(pk=declaration_id)


def declarations_locked_for_assessment(*, declaration_ids: list[int]) -> list[Declaration]:
    """The open ones among these declarations, locked in pk order (so that two batches
    over one vessel queue up rather than deadlock), with what the rules read: three
    queries however many there are. The caller is inside a transaction."""
    return list(
        declarations_for_assessment()
        .select_for_update(of=("self",))
        .filter(pk__in=declaration_ids, status__in=Declaration.OPEN_STATUSES)
        .order_by("pk")
    )


@dataclass(frozen=True)
class ConsignmentRow:
    """What the assessment reads of one open declaration: plain values, no model."""

    id: int
    number: str | None
    bl_number: str
    enterprise_id: int
    credit_rating: str
    kind: str
    status: str
    submitted_at: datetime | None
    net_weight: Decimal | None
    port_call_id: int
    terminal_id: int | None
    # Two-stage access: the stages the goods must pass besides customs.
    quarantine_involved: bool = False
    permits_involved: bool = False
    # (hs_code, origin_country, value) per goods line, and (container_id, number).
    items: list[tuple[str, str, Decimal]] = field(default_factory=list)
    containers: list[tuple[int, str]] = field(default_factory=list)


def consignments_locked_for_assessment(*, declaration_ids: list[int]) -> list[ConsignmentRow]:
    """The open ones among these declarations, locked in pk order (so that two batches over
    one vessel queue up rather than deadlock), as plain rows with their goods lines and
    containers: three queries however many there are, no model built per row. The caller
    is inside a transaction."""
    heads = (
        Declaration.objects.select_for_update(of=("self",))
        .filter(pk__any=declaration_ids, status__in=Declaration.OPEN_STATUSES)
        .order_by("pk")
        .values_list(
            "pk",
            "number",
            "bl_number",
            "enterprise_id",
            "enterprise__credit_rating",
            "kind",
            "status",
            "submitted_at",
            "net_weight",
            "port_call_id",
            "port_call__terminal_id",
            "quarantine_involved",
            "permits_involved",
        )
    )
    rows = {head[0]: ConsignmentRow(*head) for head in heads}
    if not rows:
        return []
    ids = list(rows)
    for declaration_id, hs_code, country, value in (
        DeclarationItem.objects.filter(declaration_id__any=ids)
        .order_by("declaration_id", "pk")
        .values_list("declaration_id", "hs_code", "origin_country", "value")
    ):
        rows[declaration_id].items.append((hs_code, country, value))
    for declaration_id, container_id, number in (
        DeclarationContainer.objects.filter(declaration_id__any=ids)
        .order_by("declaration_id", "pk")
        .values_list("declaration_id", "container_id", "container__number")
    ):
        rows[declaration_id].containers.append((container_id, number))
    return list(rows.values())


def declaration_ids_open_for_call(*, port_call_id: int) -> list[int]:
    """A vessel call's declarations still open to assessment (submitted, amended or
    awaiting inspection): what a re-assessment of the call looks at."""
    return list(
        Declaration.objects.filter(
            port_call_id=port_call_id, status__in=Declaration.OPEN_STATUSES
        ).values_list("pk", flat=True)
    )


def port_call_ids_with_undecided_declarations() -> set[int]:
    """Calls with a declaration submitted or amended and not yet decided."""
    return set(
        Declaration.objects.filter(
            status__in=[Declaration.Status.SUBMITTED, Declaration.Status.AMENDED]
        )
        .order_by()
        .values_list("port_call_id", flat=True)
        .distinct()
    )


def enterprise_ids_on_call(*, port_call_id: int, among: list[int]) -> list[int]:
    """Which of the organisations `among` have goods declared on the call (as the enterprise
    or its declarant), not withdrawn."""
    return list(
        Declaration.objects.filter(port_call_id=port_call_id)
        .filter(Q(enterprise_id__in=among) | Q(declarant_id__in=among))
        .exclude(status=Declaration.Status.WITHDRAWN)
        .values_list("enterprise_id", flat=True)
        .distinct()
    )


def declared_goods_for_call(*, port_call_id: int) -> dict[str, set[str]]:
    """Container number -> the commodity codes declared for it, for every declaration filed
    for a call (items are per declaration, so each of its containers carries all of them).
    One query; used by the shipping app's dangerous-goods cross-check."""
    goods: dict[str, set[str]] = {}
    rows = DeclarationContainer.objects.filter(declaration__port_call_id=port_call_id).values_list(
        "container__number", "declaration__items__hs_code"
    )
    for number, hs_code in rows:
        goods.setdefault(number, set()).update([hs_code] if hs_code else [])
    return goods


def declaration_facts(*, declaration_ids: list[int]) -> dict[int, dict]:
    """What analytics keeps of each declaration, in one query: direction, who, where (the
    port call, its terminal and its vessel's arrival), trade mode, goods.

    The goods line of the highest value stands for the declaration (its HS chapter and
    country of origin).
    """
    main_item = DeclarationItem.objects.filter(declaration=OuterRef("pk")).order_by(
        "-value", "line_number"
    )
    rows = (
        Declaration.objects.filter(pk__in=declaration_ids)
        .annotate(
            terminal_id=F("port_call__terminal_id"),
            arrived_at=F("port_call__ata"),
            container_count=Count("declarationcontainer", distinct=True),
            total_value=Subquery(
                DeclarationItem.objects.filter(declaration=OuterRef("pk"))
                .values("declaration")
                .annotate(total=Sum("value"))
                .values("total")
            ),
            main_hs=Subquery(main_item.values("hs_code")[:1]),
            main_country=Subquery(main_item.values("origin_country")[:1]),
        )
        .values(
            "pk",
            "direction",
            "enterprise_id",
            "declarant_id",
            "terminal_id",
            "port_call_id",
            "arrived_at",
            "trade_mode",
            "container_count",
            "total_value",
            "main_hs",
            "main_country",
            "currency",
            "submitted_at",
        )
    )
    return {row["pk"]: row for row in rows}


# A declaration in these states holds no container: not yet filed, or given up.
NOT_LIVE = [Declaration.Status.DRAFT, Declaration.Status.WITHDRAWN]


def container_latest_declaration(*, container_id: int) -> Declaration | None:
    """The latest declaration of a container past draft (with its enterprise), if any: what
    the gate checks a gate-out against."""
    return (
        Declaration.objects.filter(containers=container_id)
        .exclude(status=Declaration.Status.DRAFT)
        .select_related("enterprise")
        .order_by("-submitted_at")
        .first()
    )


def containers_for_direct_delivery(*, port_call_id: int) -> set[str]:
    """Containers of a call's released declarations that asked for ship-side pickup (imports)
    or direct loading (exports)."""
    return set(
        DeclarationContainer.objects.filter(
            declaration__port_call_id=port_call_id,
            declaration__status=Declaration.Status.RELEASED,
            declaration__direct_delivery=True,
        ).values_list("container__number", flat=True)
    )


def declared_container_numbers(*, port_call_id: int) -> set[str]:
    """Containers on a call's live declarations."""
    return set(
        DeclarationContainer.objects.filter(declaration__port_call_id=port_call_id)
        .exclude(declaration__status__in=NOT_LIVE)
        .values_list("container__number", flat=True)
    )


def import_enterprises_of(*, port_call_id: int, container_numbers: list[str]) -> dict[str, int]:
    """Container number -> the enterprise importing it on this call (its latest live import
    declaration), in one query; undeclared containers are absent."""
    rows = (
        DeclarationContainer.objects.filter(
            declaration__port_call_id=port_call_id,
            declaration__direction=Declaration.Direction.IMPORT,
            container__number__in=container_numbers,
        )
        .exclude(declaration__status__in=NOT_LIVE)
        .order_by("declaration__submitted_at")
        .values_list("container__number", "declaration__enterprise_id")
    )
    return dict(rows)


def export_port_call_of(*, container_number: str) -> int | None:
    """The vessel call of the latest live export declaration of a container, if any."""
    return (
        Declaration.objects.filter(
            containers__number=container_number, direction=Declaration.Direction.EXPORT
        )
        .exclude(status__in=NOT_LIVE)
        .order_by("-submitted_at")
        .values_list("port_call_id", flat=True)
        .first()
    )


def live_declared_containers() -> QuerySet[DeclarationContainer]:
    """Containers of declarations past draft and not withdrawn (to compose into other queries,
    e.g. reconciliation against the manifest and the gate)."""
    return DeclarationContainer.objects.exclude(declaration__status__in=NOT_LIVE)


def released_declared_containers() -> QuerySet[DeclarationContainer]:
    return DeclarationContainer.objects.filter(declaration__status=Declaration.Status.RELEASED)


def declaration_numbers(*, declaration_ids: list[int]) -> dict[int, str]:
    """Each declaration's number (or its id while a draft has none), for messages."""
    rows = Declaration.objects.filter(pk__in=declaration_ids).values_list("pk", "number")
    return {pk: number or f"#{pk}" for pk, number in rows}


def full_imports_with_items(*, declaration_ids: list[int]) -> list[dict]:
    """The full import declarations among these, with their lines, for the tax bill: two
    queries whatever the number."""
    declarations = list(
        Declaration.objects.filter(
            pk__in=declaration_ids,
            direction=Declaration.Direction.IMPORT,
            kind=Declaration.Kind.FULL,
        ).values("pk", "number", "enterprise_id", "currency", "port_call__port_id", "submitted_at")
    )
    lines: dict[int, list[dict]] = {}
    for item in (
        DeclarationItem.objects.filter(declaration_id__in=[d["pk"] for d in declarations])
        .order_by("declaration_id", "line_number")
        .values(
            "declaration_id",
            "line_number",
            "hs_code",
            "description",
            "value",
            "mfn_rate",
            "preferential_rate",
        )
    ):
        lines.setdefault(item["declaration_id"], []).append(item)
    return [{**d, "items": lines.get(d["pk"], [])} for d in declarations]


def released_full_import_ids(*, since) -> list[int]:
    """Full import declarations released (or changed after release) since `since`."""
    return list(
        Declaration.objects.filter(
            status=Declaration.Status.RELEASED,
            direction=Declaration.Direction.IMPORT,
            kind=Declaration.Kind.FULL,
            updated_at__gte=since,
        ).values_list("pk", flat=True)
    )


def duty_rates_many(*, hs_codes: list[str], certificate_numbers: list[str], on_date) -> dict:
    """The rates a filing's duty uses, keyed by code: {"mfn": rate or None, "preferential":
    {certificate number: (agreement code, rate or None)}} for the certificates of origin
    issued and valid on `on_date` (one query), so another app's duty (a bonded zone's exit)
    applies a certificate on the same terms as a declaration."""
    return certificate_queries.duty_rates_many(
        hs_codes=hs_codes, certificate_numbers=certificate_numbers, on_date=on_date
    )
