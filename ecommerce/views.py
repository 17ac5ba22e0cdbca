"""E-commerce pages: the enterprise's lists, the officers' queue, the "Double 11" board.
Each page re-fetches its body over htmx when a live message arrives."""

import contextlib

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ecommerce import queries, services
from ecommerce.models import InventoryList, TradeMode
from port.errors import InvalidInput, TransitionNotAllowed


def _body_or_page(request, page: str, body: str, context: dict):
    return render(request, body if request.htmx else page, context)


@login_required
def lists(request):
    roles = queries.roles_for(request.user)
    if not (roles.keys() & {"declarant", "platform"}) and not queries.is_customs(request.user):
        raise Http404
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "trade_mode", "waybill_no")}
    page = Paginator(queries.list_list(user=request.user, filters=filters), 50).get_page(
        request.GET.get("page")
    )
    return _body_or_page(
        request,
        "ecommerce/lists.html",
        "ecommerce/_lists_body.html",
        {
            "page": page,
            "filters": filters,
            "statuses": InventoryList.Status.choices,
            "trade_modes": TradeMode.choices,
        },
    )


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
