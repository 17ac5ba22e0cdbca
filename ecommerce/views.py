"""E-commerce pages: the enterprise's lists, the officers' queue and rules, the "Double 11"
board. Each live page re-fetches its body over htmx when a live message arrives."""

import contextlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ecommerce import queries, services, tax_months
from ecommerce import summaries as summaries_service
from ecommerce.forms import ListRiskRuleForm, PositiveEntryForm, SummariseForm, WatchedBuyerForm
from ecommerce.models import (
    InventoryList,
    ListRiskRule,
    ListRuleSet,
    Participant,
    PositiveListEntry,
    TaxMonth,
    TradeMode,
    WatchedBuyer,
)
from port.errors import InvalidInput, NotYours, TransitionNotAllowed


def _body_or_page(request, page: str, body: str, context: dict):
    return render(request, body if request.htmx else page, context)


def _before(request) -> int | None:
    before = request.GET.get("before", "")
    return int(before) if before.isdigit() and len(before) < 19 else None


def _pages(before, next_before, filters: dict) -> dict:
    """The keyset pager's links: the next page keeps the filters (newest first below the
    last list shown), and a page past the first links back to the newest."""
    kept = {k: v for k, v in filters.items() if v}
    return {
        "next_query": urlencode({**kept, "before": next_before}) if next_before else "",
        "first_query": urlencode(kept) if before is not None else None,
    }


@login_required
def lists(request):
    roles = queries.roles_for(request.user)
    if not (roles.keys() & {"declarant", "platform"}) and not queries.is_customs(request.user):
        raise Http404
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "trade_mode", "waybill_no")}
    before = _before(request)
    rows, next_before = queries.list_page(user=request.user, filters=filters, before=before)
    return _body_or_page(
        request,
        "ecommerce/lists.html",
        "ecommerce/_lists_body.html",
        {
            "rows": rows,
            **_pages(before, next_before, filters),
            "filters": filters,
            "statuses": InventoryList.Status.choices,
            "trade_modes": TradeMode.choices,
        },
    )


EXPORT_MODES = [(m.value, m.label) for m in TradeMode if m.value not in ("1210",)]


@login_required
def exports(request):
    """The enterprise's export lists (9610 E, 9710, 9810), cleared one by one; live."""
    if not queries.may_see_exports(request.user):
        raise Http404
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "trade_mode", "destination")}
    before = _before(request)
    rows, next_before = queries.export_list_page(user=request.user, filters=filters, before=before)
    return _body_or_page(
        request,
        "ecommerce/exports.html",
        "ecommerce/_exports_body.html",
        {
            "rows": rows,
            **_pages(before, next_before, filters),
            "filters": filters,
            "statuses": InventoryList.Status.choices,
            "trade_modes": EXPORT_MODES,
        },
    )


@login_required
def summaries(request):
    """The monthly summaries of export lists, and the button that summarises a past month
    (an officer: every enterprise; an enterprise: its own)."""
    if not queries.may_summarise(request.user):
        raise Http404
    last_year, last_month = summaries_service.previous_month()
    form = SummariseForm(initial={"month": f"{last_year:04d}-{last_month:02d}"})
    if request.method == "POST":
        form = SummariseForm(request.POST)
        if form.is_valid():
            year, month = (int(p) for p in form.cleaned_data["month"].split("-"))
            try:
                made = summaries_service.month_summarise(year=year, month=month, user=request.user)
            except InvalidInput as refused:
                form.add_error("month", refused.errors["month"][0])
            else:
                messages.success(
                    request,
                    _("%(n)d summary declarations filed for %(month)s.")
                    % {"n": len(made), "month": form.cleaned_data["month"]}
                    if made
                    else _("%(month)s is summarised already; nothing new to declare.")
                    % {"month": form.cleaned_data["month"]},
                )
                return redirect("ecommerce:summaries")
    rows = queries.summary_list(user=request.user)[:200]
    return render(
        request,
        "ecommerce/summaries.html",
        {"summaries": rows, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def tax(request):
    """The e-commerce tax by month: an enterprise sees and pays its own (online, through the
    bank); an officer sees every enterprise's and records a payment received otherwise."""
    roles = queries.roles_for(request.user)
    officer = queries.is_customs(request.user)
    if Participant.Role.ENTERPRISE not in roles and not officer:
        raise Http404
    if request.method == "POST":
        return _tax_post(request)
    status = request.GET.get("status", "").strip()
    months = queries.tax_months_for(request.user, officer=officer, status=status)
    running = [] if officer else queries.tax_running_for(request.user)
    page = Paginator(months, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "ecommerce/tax.html",
        {
            "page": page,
            "officer": officer,
            "status": status,
            "statuses": TaxMonth.Status.choices,
            "running": running,
            "due_days": tax_months.DUE_DAYS,
        },
    )


def _tax_post(request):
    try:
        pk = int(request.POST.get("month", ""))
    except ValueError:
        raise Http404 from None
    try:
        if request.POST.get("action") == "record":
            paid = tax_months.tax_month_record_paid(
                tax_month_id=pk, officer=request.user, reference=request.POST.get("reference", "")
            )
        else:
            paid = tax_months.tax_month_pay(tax_month_id=pk, user=request.user)
    except NotYours:
        raise Http404 from None
    except InvalidInput as refused:
        for errors in refused.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("ecommerce:tax")
    messages.success(
        request,
        _("The e-commerce tax of %(month)s is paid (%(reference)s).")
        % {"month": f"{paid.month:%Y-%m}", "reference": paid.bank_reference},
    )
    return redirect("ecommerce:tax")


@login_required
def queue(request):
    if not queries.is_customs(request.user):
        raise Http404
    return _body_or_page(
        request,
        "ecommerce/queue.html",
        "ecommerce/_queue_body.html",
        {"lists": queries.queue(user=request.user)[:100]},
    )


@login_required
@require_POST
def inspect(request, pk: int):
    # Another officer may have decided it first, or the form sent nonsense: the queue then
    # shows the list as it is.
    with contextlib.suppress(TransitionNotAllowed, InvalidInput):
        services.list_inspect(
            list_id=pk, officer=request.user, outcome=request.POST.get("outcome", "")
        )
    return redirect("ecommerce:queue")


@login_required
def board(request):
    if queries.board_live_group(request.user, "") is None:
        raise Http404
    return _body_or_page(
        request, "ecommerce/board.html", "ecommerce/_board_body.html", {"board": queries.board()}
    )


# The risk rule form has an hs_prefix field too: distinct ids keep each label on its input.
POSITIVE_IDS = "id_positive_%s"


def _customs_only(request) -> None:
    if not queries.is_customs(request.user):
        raise Http404


@login_required
def rules(request):
    """The officers' e-commerce rules: list risk rules and their activation, the buyers'
    watch list (masked), the positive list."""
    _customs_only(request)
    rule_form, watch_form = ListRiskRuleForm(), WatchedBuyerForm()
    positive_form = PositiveEntryForm(auto_id=POSITIVE_IDS)
    if request.method == "POST":
        action = request.POST.get("do", "")
        if action == "add_rule":
            rule_form = ListRiskRuleForm(request.POST)
            if rule_form.is_valid():
                services.list_risk_rule_create(officer=request.user, **rule_form.rule_fields())
                messages.success(request, _("Rule added. Activate the rules to apply it."))
                return redirect("ecommerce:rules")
        elif action == "toggle":
            with contextlib.suppress(ListRiskRule.DoesNotExist, ValueError):
                services.list_risk_rule_set_active(
                    officer=request.user,
                    rule_id=int(request.POST.get("rule", "")),
                    active=request.POST.get("active") == "1",
                )
            return redirect("ecommerce:rules")
        elif action == "activate":
            rule_set = services.list_rule_set_activate(officer=request.user)
            messages.success(
                request,
                _("Version %(v)d is in force for the lists decided from now.")
                % {"v": rule_set.version},
            )
            return redirect("ecommerce:rules")
        elif action == "watch":
            watch_form = WatchedBuyerForm(request.POST)
            if watch_form.is_valid():
                try:
                    services.watched_buyer_add(officer=request.user, **watch_form.cleaned_data)
                except InvalidInput as refused:
                    watch_form.add_error("id_number", refused.errors["id_number"][0])
                else:
                    messages.success(request, _("Buyer watched."))
                    return redirect("ecommerce:rules")
            watch_form.data = watch_form.data.copy()
            watch_form.data["id_number"] = ""  # never echo an ID number back
        elif action == "add_positive":
            positive_form = PositiveEntryForm(request.POST, auto_id=POSITIVE_IDS)
            if positive_form.is_valid():
                try:
                    services.positive_entry_add(
                        officer=request.user, **positive_form.entry_fields()
                    )
                except InvalidInput as refused:
                    positive_form.add_error("hs_prefix", refused.errors["hs_prefix"][0])
                else:
                    messages.success(request, _("Added to the positive list."))
                    return redirect("ecommerce:rules")
        elif action == "retire_positive":
            with contextlib.suppress(PositiveListEntry.DoesNotExist, ValueError):
                services.positive_entry_retire(
                    officer=request.user, entry_id=int(request.POST.get("entry", ""))
                )
                messages.success(request, _("Retired from the positive list."))
            return redirect("ecommerce:rules")
        elif action == "unwatch":
            with contextlib.suppress(ValueError):
                services.watched_buyer_remove(
                    officer=request.user, watched_id=int(request.POST.get("watched", ""))
                )
            return redirect("ecommerce:rules")
    platform_names = dict(
        Participant.objects.filter(role=Participant.Role.PLATFORM).values_list(
            "organisation_id", "organisation__name"
        )
    )
    return render(
        request,
        "ecommerce/rules.html",
        {
            "rules": [(r, _criteria(r, platform_names)) for r in ListRiskRule.objects.all()],
            "rule_set": ListRuleSet.objects.order_by("-version").first(),
            "watched": WatchedBuyer.objects.order_by("-created_at")[:200],
            "positive": PositiveListEntry.objects.filter(retired_at__isnull=True),
            "positive_form": positive_form,
            "rule_form": rule_form,
            "watch_form": watch_form,
        },
        status=400 if request.method == "POST" else 200,
    )


def _criteria(rule: ListRiskRule, platform_names: dict) -> str:
    parts = []
    if rule.hs_prefix:
        parts.append(f"HS {rule.hs_prefix}*")
    parts += rule.categories
    parts += [platform_names.get(p, str(p)) for p in rule.platforms]
    if rule.watched_buyers:
        parts.append(_("watched buyers"))
    if rule.value_min_cents is not None:
        parts.append(_("value from ¥%(v)s") % {"v": f"{rule.value_min_cents / 100:,.2f}"})
    return " · ".join(parts)
