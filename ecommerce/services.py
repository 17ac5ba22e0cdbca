"""Every write of e-commerce outside the bulk paths (`ecommerce.intake`, `ecommerce.decision`):
officers' decisions on inspected parcels, buyers' returns, list rule sets, sorting scans."""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations.two_step import guarantee_give_back
from ecommerce import events, personal, queries, quota, risk
from ecommerce.models import (
    InventoryList,
    ListLine,
    ListRiskRule,
    ListRuleSet,
    PositiveListEntry,
    SortingScan,
    WatchedBuyer,
)
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent, User
from port.timeline import timeline_record
from port.transitions import transition
from zones import services as zone_services

S = InventoryList.Status
RETURN_DAYS = 30


def _set_status(
    inventory_list: InventoryList, new: str, *, actor: User, note: str = "", untaxed: bool = False
) -> None:
    """Move the list (locked by the caller); `untaxed` gives its quota back and zeroes its tax."""
    extra = ()
    if untaxed and new in InventoryList.TRANSITIONS[inventory_list.status]:
        _give_quota_back(inventory_list)
        if inventory_list.guarantee_cents:
            guarantee_give_back(
                enterprise_id=inventory_list.enterprise_id, cents=inventory_list.guarantee_cents
            )
        if inventory_list.zone_enterprise_id:
            _stock_back(inventory_list)
        inventory_list.vat_cents = inventory_list.consumption_cents = inventory_list.quota_cents = 0
        inventory_list.guarantee_cents = 0
        extra = ("vat_cents", "consumption_cents", "quota_cents", "guarantee_cents")
    old = transition(inventory_list, new, extra_fields=extra)
    timeline_record(
        subject=inventory_list,
        kind=TimelineEvent.Kind.ECOMMERCE_LIST_STATUS_CHANGED,
        actor=actor,
        organisation=inventory_list.declarant,
        data={"from": old, "to": new, "note": note},
    )
    events.publish_status_changed(
        list_id=inventory_list.pk,
        status=new,
        organisation_ids=[inventory_list.declarant_id, inventory_list.platform_id],
    )


def _stock_back(inventory_list: InventoryList) -> None:
    """A 1210 parcel returned by its buyer, or sent back by customs, goes back on the
    warehouse's account (it was taken when the list was released or selected)."""
    lines = ListLine.objects.filter(inventory_list=inventory_list).order_by("line_no")
    zone_services.retail_put_back(
        zone_enterprise_id=inventory_list.zone_enterprise_id,
        lines=[
            zone_services.RetailLine(
                line.line_no - 1,
                line.item_no,
                line.quantity,
                Decimal(line.quantity * line.unit_price_cents) / 100,
            )
            for line in lines
        ],
    )


def _give_quota_back(inventory_list: InventoryList) -> None:
    if inventory_list.quota_cents and inventory_list.quota_year:
        quota.give_back(
            inventory_list.buyer_key, inventory_list.quota_year, inventory_list.quota_cents
        )


@transaction.atomic
def list_inspect(*, list_id: int, officer: User, outcome: str, note: str = "") -> InventoryList:
    """An officer releases, holds or sends back an inspected parcel's list.

    Writes the status and a timeline row; a list sent back gives its buyer's quota back
    and owes no tax. Raises NotYours (not customs), TransitionNotAllowed, InvalidInput.
    """
    if not queries.is_customs(officer):
        raise NotYours
    if outcome not in (S.RELEASED, S.HELD, S.SENT_BACK):
        raise InvalidInput({"outcome": [_("One of released, held, sent_back.")]})
    inventory_list = InventoryList.objects.select_for_update().get(pk=list_id)
    _set_status(inventory_list, outcome, actor=officer, note=note, untaxed=outcome == S.SENT_BACK)
    return inventory_list


@transaction.atomic
def list_return(*, list_id: int, user: User) -> InventoryList:
    """The buyer returned the parcel (退货) within 30 days of release: the quota it drew goes
    back to the buyer and its tax leaves the enterprise's bill.

    Only the declaring enterprise asks. Raises NotYours, TransitionNotAllowed, InvalidInput.
    """
    inventory_list = InventoryList.objects.select_for_update().filter(pk=list_id).first()
    if inventory_list is None or inventory_list.declarant_id not in _organisations(user):
        raise NotYours
    if inventory_list.status == S.RELEASED and (
        inventory_list.decided_at is None
        or timezone.now() - inventory_list.decided_at > timedelta(days=RETURN_DAYS)
    ):
        raise InvalidInput({"list": [_("Returns are accepted within 30 days of release.")]})
    _set_status(inventory_list, S.REFUNDED, actor=user, note="returned", untaxed=True)
    return inventory_list


def _organisations(user: User) -> set[int]:
    from port.queries import organisation_ids_for

    return set(organisation_ids_for(user))


@transaction.atomic
def list_rule_set_activate(*, officer: User | None) -> ListRuleSet:
    """Snapshot the active list rules into a new version; lists decided from now use it."""
    current = ListRuleSet.objects.select_for_update().order_by("-version").first()
    rules = [risk.rule_snapshot(r) for r in ListRiskRule.objects.filter(is_active=True)]
    return ListRuleSet.objects.create(
        version=(current.version + 1) if current else 1, rules=rules, seed=secrets.token_hex(8)
    )


def sorting_scan(*, waybill_no: str) -> str:
    """Record a parcel scanned at the sorting line and return its instruction."""
    instruction = queries.sorting_instruction(waybill_no)
    SortingScan.objects.create(waybill_no=waybill_no, instruction=instruction)
    return instruction


@transaction.atomic
def positive_entry_add(*, officer: User, **fields) -> PositiveListEntry:
    """An officer adds goods to the positive list (in force for the lists decided from
    now). Raises NotYours (not customs), InvalidInput (the prefix is already in force)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the positive list."))
    if PositiveListEntry.objects.filter(
        hs_prefix=fields["hs_prefix"], retired_at__isnull=True
    ).exists():
        raise InvalidInput({"hs_prefix": [_("This prefix is already on the positive list.")]})
    entry = PositiveListEntry.objects.create(**fields)
    _positive_changed(entry, officer, "added")
    return entry


@transaction.atomic
def positive_entry_retire(*, officer: User, entry_id: int) -> PositiveListEntry:
    """Retire an entry: lists decided from now no longer find it. Raises NotYours,
    PositiveListEntry.DoesNotExist (no such entry in force)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the positive list."))
    entry = PositiveListEntry.objects.select_for_update().get(pk=entry_id, retired_at__isnull=True)
    entry.retired_at = timezone.now()
    entry.save(update_fields=["retired_at"])
    _positive_changed(entry, officer, "retired")
    return entry


def _positive_changed(entry: PositiveListEntry, officer: User, change: str) -> None:
    timeline_record(
        subject=entry,
        kind=TimelineEvent.Kind.ECOMMERCE_POSITIVE_LIST_CHANGED,
        actor=officer,
        organisation=None,
        data={
            "change": change,
            "hs_prefix": entry.hs_prefix,
            "category": entry.category,
            "vat_bp": entry.vat_bp,
            "consumption_bp": entry.consumption_bp,
            "trade_modes": list(entry.trade_modes),
        },
    )


@transaction.atomic
def list_risk_rule_create(*, officer: User, **fields) -> ListRiskRule:
    """An officer adds a list risk rule (active; it takes effect when the rules are
    activated). Raises NotYours (not customs)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the e-commerce risk rules."))
    return ListRiskRule.objects.create(**fields)


@transaction.atomic
def list_risk_rule_set_active(*, officer: User, rule_id: int, active: bool) -> ListRiskRule:
    """Switch a rule on or off for the next activation. Raises NotYours."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the e-commerce risk rules."))
    rule = ListRiskRule.objects.select_for_update().get(pk=rule_id)
    rule.is_active = active
    rule.save(update_fields=["is_active", "updated_at"])
    return rule


@transaction.atomic
def watched_buyer_add(*, officer: User, id_number: str, note: str = "") -> WatchedBuyer:
    """Watch a buyer by ID number: only its keyed hash and masked form are kept.
    Raises NotYours, InvalidInput (never repeating the number)."""
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the buyers' watch list."))
    number = personal.normalise_id(id_number or "")
    if not personal.id_is_valid(number):
        raise InvalidInput({"id_number": [_("Enter a valid resident identity card number.")]})
    watched, _created = WatchedBuyer.objects.update_or_create(
        buyer_key=personal.buyer_key(number),
        defaults={"buyer_id_masked": personal.mask_id(number), "note": note[:200]},
    )
    return watched


@transaction.atomic
def watched_buyer_remove(*, officer: User, watched_id: int) -> None:
    if not queries.is_customs(officer):
        raise NotYours(_("Only customs officers keep the buyers' watch list."))
    WatchedBuyer.objects.filter(pk=watched_id).delete()
