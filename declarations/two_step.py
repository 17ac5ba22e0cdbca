"""The two-step declaration (a summary first, the full declaration within
services.STEP2_DEADLINE of its release): the guarantee a summary draws on its enterprise's
quota and gives back, which e-commerce lists and billing use too, and the step 2 sweep that
reminds and flags overdue summaries. The summary's status changes are services.py's."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import bulk, events
from declarations.models import Declaration, GuaranteeAccount
from declarations.validation import CENT
from port import live
from port.errors import InvalidInput
from port.models import Organisation, TimelineEvent, User
from port.timeline import timeline_record

# Reminders go out when this much time is left before the step 2 deadline.
STEP2_REMINDERS = (timedelta(days=7), timedelta(days=3), timedelta(days=1))


# --- the guarantee ---------------------------------------------------------------------------


def guarantee_account_set(*, enterprise: Organisation, quota: Decimal) -> GuaranteeAccount:
    """Create an enterprise's guarantee account, or set its quota (seed_demo, admin)."""
    account, _created = GuaranteeAccount.objects.get_or_create(
        enterprise=enterprise, defaults={"quota": quota}
    )
    if account.quota != quota:
        GuaranteeAccount.objects.filter(pk=account.pk, used__lte=quota).update(quota=quota)
    return account


def guarantee_take_for_batch(new: bulk.NewDeclaration) -> None:
    """A summary of a batch draws its guarantee before it is written (`bulk.write` records
    the draw on its timeline)."""
    enterprise = new.header["enterprise"]
    if enterprise.credit_rating == Organisation.CreditRating.CERTIFIED:
        return
    estimate = sum((i["duty_estimate"] or Decimal(0) for i in new.items), Decimal(0))
    amount = max(Decimal(estimate).quantize(CENT), Decimal("1.00"))
    guarantee_draw(enterprise=enterprise, amount=amount)
    new.header["guarantee_amount"] = amount


# Apps that may stop an enterprise drawing on its guarantee (billing: an overdue bill;
# ecommerce: an overdue tax month), each a function of enterprise ids giving
# {enterprise id: the reason} for those it stops, in one query. Set in AppConfig.ready.
GUARANTEE_BLOCKERS: list = []


def guarantee_blocked(enterprise_ids: list[int]) -> dict[int, str]:
    """{enterprise id: why it may not draw on its guarantee now} of these enterprises."""
    blocked: dict[int, str] = {}
    for blocker in GUARANTEE_BLOCKERS:
        for enterprise_id, reason in blocker(enterprise_ids).items():
            blocked.setdefault(enterprise_id, reason)
    return blocked


def guarantee_draw(*, enterprise: Organisation, amount: Decimal) -> None:
    """Take `amount` CNY of the enterprise's guarantee quota, or raise InvalidInput.

    One conditional UPDATE: PostgreSQL re-checks the WHERE after waiting for a concurrent
    drawer's row lock, so two draws can never both take the last of the quota.
    """
    reason = guarantee_blocked([enterprise.pk]).get(enterprise.pk)
    if reason:
        raise InvalidInput({"guarantee": [reason]})
    drawn = GuaranteeAccount.objects.filter(
        enterprise=enterprise, used__lte=F("quota") - amount
    ).update(used=F("used") + amount, updated_at=timezone.now())
    if drawn != 1:
        account = GuaranteeAccount.objects.filter(enterprise=enterprise).first()
        available = account.available if account else Decimal(0)
        raise InvalidInput(
            {
                "guarantee": [
                    _(
                        "The guarantee of %(amount)s CNY exceeds the quota still available "
                        "(%(available)s CNY)."
                    )
                    % {"amount": amount, "available": available}
                ]
            }
        )


def guarantee_draw_set(
    requests: list[tuple[int, int, int]],
) -> tuple[set[int], set[int], set[int]]:
    """Draw for (key, enterprise_id, cents) requests in one set, in key order; returns the
    keys drawn, the keys whose amount the enterprise's guarantee no longer covers
    (e-commerce lists' tax), and the keys of enterprises a blocker stops drawing at all
    (`GUARANTEE_BLOCKERS`: an overdue bill or tax month).

    The accounts are locked in enterprise order (SELECT … FOR UPDATE), so concurrent sets
    queue behind each other, see what the previous holder committed and never deadlock;
    one UPDATE … FROM unnest adds what fitted. Enterprises without an account (or
    certified ones) are not under the guarantee: their keys are in neither set.
    """
    enterprises = sorted({e for _k, e, _c in requests})
    if not enterprises:
        return set(), set(), set()
    stopped = guarantee_blocked(enterprises)
    blocked = {key for key, enterprise_id, _c in requests if enterprise_id in stopped}
    table = GuaranteeAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT g.enterprise_id, g.quota - g.used FROM {table} g "  # noqa: S608
            f"JOIN {Organisation._meta.db_table} o ON o.id = g.enterprise_id "
            "WHERE g.enterprise_id = ANY(%s::bigint[]) AND o.credit_rating <> %s "
            "ORDER BY g.enterprise_id FOR UPDATE OF g",
            [enterprises, Organisation.CreditRating.CERTIFIED],
        )
        left = {e: int(available * 100) for e, available in cursor.fetchall()}
        fitting, refused, added = set(), set(), {}
        for key, enterprise_id, cents in sorted(requests):
            if enterprise_id not in left or key in blocked:
                continue
            if cents > left[enterprise_id]:
                refused.add(key)
                continue
            left[enterprise_id] -= cents
            added[enterprise_id] = added.get(enterprise_id, 0) + cents
            fitting.add(key)
        if added:
            cursor.execute(
                f"UPDATE {table} g SET used = g.used + a.cents / 100.0, updated_at = %s "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::bigint[]) AS a(e, cents) WHERE g.enterprise_id = a.e",
                [timezone.now(), list(added), list(added.values())],
            )
    return fitting, refused, blocked & {key for key, e, _c in requests if e in left}


def guarantee_give_back(*, enterprise_id: int, cents: int) -> None:
    """A returned e-commerce list's tax, or a settled bill, goes back to the guarantee."""
    GuaranteeAccount.objects.filter(enterprise_id=enterprise_id).update(
        used=Greatest(F("used") - Decimal(cents) / 100, Decimal(0)), updated_at=timezone.now()
    )


def guarantee_draw_for_summary(declaration: Declaration, *, user: User) -> None:
    """A summary being submitted draws its estimated duty (at least 1 CNY) on its
    enterprise's guarantee and records the draw on its timeline; certified enterprises draw
    nothing. Raises InvalidInput when the quota does not cover it."""
    enterprise = declaration.enterprise
    if enterprise.credit_rating == Organisation.CreditRating.CERTIFIED:
        return  # certified (AEO) enterprises are exempt from the guarantee
    amount = _guarantee_amount(declaration)
    guarantee_draw(enterprise=enterprise, amount=amount)
    declaration.guarantee_amount = amount
    declaration.save(update_fields=["guarantee_amount", "updated_at"])
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_DRAWN,
        actor=user,
        organisation=enterprise,
        data={"amount": str(amount)},
    )


def _guarantee_amount(declaration: Declaration) -> Decimal:
    """The estimated duty of the summary's goods, at least 1 CNY."""
    total = sum((i.duty_estimate or Decimal(0) for i in declaration.items.all()), Decimal(0))
    return max(Decimal(total).quantize(CENT), Decimal("1.00"))


def guarantee_restore(declaration: Declaration, *, actor: User | None) -> None:
    """Give a summary's guarantee back (withdrawn, or completed by its full declaration) and
    record it on its timeline; once only."""
    if declaration.guarantee_amount <= 0 or declaration.guarantee_restored:
        return
    GuaranteeAccount.objects.filter(enterprise_id=declaration.enterprise_id).update(
        used=F("used") - declaration.guarantee_amount, updated_at=timezone.now()
    )
    declaration.guarantee_restored = True
    declaration.save(update_fields=["guarantee_restored", "updated_at"])
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_GUARANTEE_RESTORED,
        actor=actor,
        organisation=declaration.enterprise,
        data={"amount": str(declaration.guarantee_amount)},
    )


# --- step 2 ------------------------------------------------------------------------------------


def declaration_step2_sweep(*, now=None) -> dict[str, int]:
    """Send due step 2 reminders and flag overdue summaries (Celery beat, hourly).

    Each reminder and the overdue flag are written once: a conditional update on
    `reminders_sent` / `is_overdue` makes a second sweep a no-op. Returns the counts.
    """
    now = now or timezone.now()
    counts = {"reminders": 0, "overdue": 0}
    due = Declaration.objects.filter(
        kind=Declaration.Kind.SUMMARY,
        status=Declaration.Status.RELEASED,
        full_due_at__isnull=False,
        full_due_at__lte=now + STEP2_REMINDERS[0],
    ).select_related("enterprise")
    for summary in due.iterator(chunk_size=500):
        with transaction.atomic():
            counts["reminders"] += _remind(summary, now=now)
            counts["overdue"] += _flag_overdue(summary, now=now)
    return counts


def _remind(summary: Declaration, *, now) -> int:
    left = summary.full_due_at - now
    due = sum(1 for threshold in STEP2_REMINDERS if left <= threshold)
    if due <= summary.reminders_sent:
        return 0
    updated = Declaration.objects.filter(
        pk=summary.pk, reminders_sent=summary.reminders_sent
    ).update(reminders_sent=due)
    if updated != 1:
        return 0  # another sweep sent it
    timeline_record(
        subject=summary,
        kind=TimelineEvent.Kind.DECLARATION_STEP2_REMINDER,
        actor=None,
        organisation=summary.enterprise,
        data={"due": summary.full_due_at.isoformat(), "days_left": max(left.days, 0)},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(summary), event=events.declaration_step2(summary)
    )
    return 1


def _flag_overdue(summary: Declaration, *, now) -> int:
    if summary.full_due_at > now or summary.is_overdue:
        return 0
    if Declaration.objects.filter(pk=summary.pk, is_overdue=False).update(is_overdue=True) != 1:
        return 0
    summary.is_overdue = True
    timeline_record(
        subject=summary,
        kind=TimelineEvent.Kind.DECLARATION_STEP2_OVERDUE,
        actor=None,
        organisation=summary.enterprise,
        data={"due": summary.full_due_at.isoformat()},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(summary), event=events.declaration_step2(summary)
    )
    return 1
