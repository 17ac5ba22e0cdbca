from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alarms import queries, services
from alarms.forms import AlarmFilterForm
from alarms.models import Alarm
from port.errors import InvalidInput, TransitionNotAllowed
from port.queries import customs_office_ids_for


@login_required
def board(request):
    """The officers' alarm board: filters, live; each alarm opens to its history."""
    offices = customs_office_ids_for(request.user)
    if not offices:
        raise PermissionDenied(_("The alarm board is for customs officers."))
    params = request.GET.copy()
    params.setdefault("status", "active")
    form = AlarmFilterForm(params)
    filters = form.cleaned_data if form.is_valid() else {"status": "active"}
    page = Paginator(queries.alarm_list(user=request.user, filters=filters), 25).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "offices": offices, "query": params.urlencode()}
    template = "alarms/_board_rows.html" if request.htmx else "alarms/board.html"
    return render(request, template, context)


@login_required
def detail(request, alarm_id: int):
    alarm = queries.alarm_get_for_user(user=request.user, alarm_id=alarm_id)
    context = {
        "alarm": alarm,
        "history": queries.alarm_history(alarm),
        "officers": queries.assignable_officers(alarm),
        "offices": queries.other_customs_offices(alarm),
        "outcomes": Alarm.Outcome.choices,
    }
    return render(request, "alarms/detail.html", context)


STEPS = {
    "acknowledge": lambda request, pk: services.alarm_acknowledge(
        alarm_id=pk, officer=request.user
    ),
    "assign": lambda request, pk: services.alarm_assign(
        alarm_id=pk, officer=request.user, assignee_id=_int(request.POST.get("assignee"))
    ),
    "hand_over": lambda request, pk: services.alarm_hand_over(
        alarm_id=pk,
        officer=request.user,
        office_id=_int(request.POST.get("office")),
        note=request.POST.get("note", ""),
    ),
    "annotate": lambda request, pk: services.alarm_annotate(
        alarm_id=pk, officer=request.user, note=request.POST.get("note", "")
    ),
    "close": lambda request, pk: services.alarm_close(
        alarm_id=pk,
        officer=request.user,
        outcome=request.POST.get("outcome", ""),
        note=request.POST.get("note", ""),
    ),
}


@login_required
@require_POST
def act(request, alarm_id: int, step: str):
    if step not in STEPS:
        raise Http404
    alarm = queries.alarm_get_for_user(user=request.user, alarm_id=alarm_id)
    try:
        STEPS[step](request, alarm.pk)
    except InvalidInput as error:
        for found in error.errors.values():
            for message in found:
                messages.error(request, message)
    except TransitionNotAllowed:
        messages.error(request, _("This alarm is closed."))
    return redirect("alarms:detail", alarm_id=alarm.pk)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
