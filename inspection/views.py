from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from alarms import queries as alarm_queries
from inspection import forms, queries, services
from inspection.gate import gate_report
from inspection.models import Inspection
from port import uploads
from port.errors import InvalidInput, TransitionNotAllowed
from port.queries import customs_office_ids_for, organisation_ids_for


def _show(errors: dict, form) -> None:
    for field, field_errors in errors.items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)


@login_required
def inspection_queue(request):
    """The officers' board: tickets at each area with Call next, and what is still on its way."""
    areas = [
        a
        for a in queries.areas_for(request.user)
        if a.customs_office_id in customs_office_ids_for(request.user)
    ]
    tickets = list(queries.open_tickets_for(user=request.user).filter(area__in=areas))
    page = Paginator(queries.selected_awaiting_arrival(user=request.user), 50).get_page(
        request.GET.get("page")
    )
    # An alert stays until the officers close its alarm (on the alarm board).
    alerts = list(
        queries.alerts_for(user=request.user)
        .filter(acknowledged_by__isnull=True)
        .exclude(gate_event_id__in=alarm_queries.closed_gate_event_ids(user=request.user))[:10]
    )
    # Each officer reads the refusal in their language (its alarm keeps every language).
    texts = alarm_queries.gate_refusal_messages(
        user=request.user, gate_event_ids=[a.gate_event_id for a in alerts if a.gate_event_id]
    )
    for alert in alerts:
        alert.text = texts.get(alert.gate_event_id, alert.message)
    context = {
        "areas": [(area, [t for t in tickets if t.area_id == area.pk]) for area in areas],
        "page": page,
        "alerts": alerts,
        "office_ids": customs_office_ids_for(request.user),
    }
    template = "inspection/_board.html" if request.htmx else "inspection/queue.html"
    return render(request, template, context)


@login_required
@require_POST
def call_next(request, area_id: int):
    ticket = services.inspection_call_next(area_id=area_id, officer=request.user)
    if ticket is None:
        messages.info(request, _("Nobody is waiting at this area."))
        return redirect("inspection:queue")
    return redirect("inspection:ticket", inspection_id=ticket.pk)


@login_required
def ticket_detail(request, inspection_id: int):
    ticket = queries.ticket_get_for_user(user=request.user, inspection_id=inspection_id)
    record_form = forms.RecordForm(initial=_recorded(ticket))
    question_form = forms.QuestionForm()
    if request.method == "POST":
        record_form, question_form = _ticket_post(request, ticket)
        if not (record_form.errors or question_form.errors):
            return redirect("inspection:ticket", inspection_id=ticket.pk)
    context = {
        "ticket": ticket,
        "decision": ticket.decision,
        "record_form": record_form,
        "question_form": question_form,
        "is_officer": ticket.area.customs_office_id in customs_office_ids_for(request.user),
        "is_supervisor": request.user.memberships.filter(
            organisation_id=ticket.area.customs_office_id, role="supervisor"
        ).exists(),
        "answer_form": forms.AnswerForm(),
    }
    return render(request, "inspection/ticket.html", context)


def _recorded(ticket: Inspection) -> dict:
    return {
        "result": ticket.result,
        "findings": ticket.findings,
        "image_verdict": ticket.image_verdict,
    }


def _ticket_post(request, ticket: Inspection):
    """One of the ticket's actions, chosen by the button pressed."""
    record_form = forms.RecordForm(_recorded(ticket))
    record_form.is_valid()  # bound to what is on file, so an action's error can be shown on it
    question_form = forms.QuestionForm()
    action = request.POST.get("action", "")
    try:
        if action == "start":
            services.inspection_start(inspection_id=ticket.pk, officer=request.user)
        elif action == "record":
            record_form = forms.RecordForm(request.POST, request.FILES)
            if record_form.is_valid():
                services.inspection_record(
                    inspection_id=ticket.pk, officer=request.user, **record_form.cleaned_data
                )
        elif action in {"released", "held", "seized", "returned"}:
            services.inspection_finish(
                inspection_id=ticket.pk,
                officer=request.user,
                status=action,
                note=request.POST.get("note", ""),
            )
        elif action == "ask":
            question_form = forms.QuestionForm(request.POST)
            if question_form.is_valid():
                services.consultation_ask(
                    inspection_id=ticket.pk, officer=request.user, **question_form.cleaned_data
                )
        elif action == "answer":
            services.consultation_answer(
                consultation_id=int(request.POST.get("consultation", 0)),
                expert=request.user,
                answer=request.POST.get("answer", ""),
            )
    except InvalidInput as error:
        _show(error.errors, question_form if action == "ask" else record_form)
    except TransitionNotAllowed as error:
        record_form.add_error(None, str(error))
    return record_form, question_form


@login_required
def decision_detail(request, decision_id: int):
    decision = queries.decision_get_for_officer(user=request.user, decision_id=decision_id)
    form = forms.OverrideForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decision_override(
                decision_id=decision.pk, officer=request.user, **form.cleaned_data
            )
        except InvalidInput as error:
            _show(error.errors, form)
        except TransitionNotAllowed:
            form.add_error(
                None, _("The container is already at the inspection area; the inspection decides.")
            )
        else:
            messages.success(request, _("Decision changed."))
            return redirect("inspection:queue")
    return render(request, "inspection/decision.html", {"decision": decision, "form": form})


@login_required
def rule_list(request):
    if not customs_office_ids_for(request.user):
        raise PermissionDenied
    reassess_form = forms.ReassessForm(
        request.POST if request.POST.get("do") == "reassess" else None,
        port_calls=queries.port_calls_open_for_reassessment(user=request.user),
    )
    if request.method == "POST" and request.POST.get("do") == "reassess":
        if _reassess(request, reassess_form):
            return redirect("inspection:rules")
    elif request.method == "POST":
        version = services.rule_set_activate(officer=request.user)
        messages.success(
            request, _("Rule set version %(number)s is active.") % {"number": version.number}
        )
        return redirect("inspection:rules")
    rules = queries.rules_for_officer(user=request.user)
    current = queries.current_rule_set()
    active_ids = {r["id"] for r in current.rules} if current else set()
    context = {
        "rules": rules,
        "current": current,
        "active_ids": active_ids,
        "reassess_form": reassess_form,
    }
    return render(request, "inspection/rules.html", context)


def _reassess(request, form) -> bool:
    """Queue the re-assessment of the chosen vessel call; False with the form's errors."""
    if not form.is_valid():
        return False
    try:
        queued = services.port_call_reassess(
            port_call_id=form.cleaned_data["port_call"].pk, officer=request.user
        )
    except InvalidInput as error:
        _show(error.errors, form)
        return False
    messages.success(
        request,
        ngettext(
            "Re-assessment of %(count)s open declaration of %(call)s is queued.",
            "Re-assessment of %(count)s open declarations of %(call)s is queued.",
            queued["declarations"],
        )
        % {"count": queued["declarations"], "call": form.cleaned_data["port_call"].vessel.name},
    )
    return True


@login_required
def rule_edit(request, rule_id: int | None = None):
    rules = queries.rules_for_officer(user=request.user)
    if not customs_office_ids_for(request.user):
        raise PermissionDenied
    rule = get_object_or_404(rules, pk=rule_id) if rule_id else None
    form = forms.RiskRuleForm(request.POST or None, instance=rule)
    dry_run = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("do") == "dry-run":
            dry_run = services.rule_dry_run(
                rule=form.save(commit=False),
                watched_enterprise_ids=[o.pk for o in form.cleaned_data["watched_enterprises"]],
                days=int(request.POST.get("days") or 30),
            )
        else:
            services.risk_rule_save(
                officer=request.user,
                rule=form.save(commit=False),
                watched_enterprises=form.cleaned_data["watched_enterprises"],
            )
            messages.success(request, _("Rule saved. Activate the rule set to apply it."))
            return redirect("inspection:rules")
    return render(
        request, "inspection/rule_form.html", {"form": form, "rule": rule, "dry_run": dry_run}
    )


@login_required
def hoisting(request):
    """The terminal's view: tickets to hoist to the inspection bays, and arrivals to report."""
    form = forms.ContainerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.inspection_report_arrival(
                user=request.user, container_number=form.cleaned_data["container"]
            )
        except InvalidInput as error:
            _show(error.errors, form)
        else:
            messages.success(
                request,
                _("Ticket %(ticket)s issued for %(container)s.")
                % {"ticket": ticket.ticket, "container": ticket.decision.container.number},
            )
            return redirect("inspection:hoisting")
    context = {
        "form": form,
        "tickets": queries.open_tickets_for(user=request.user),
        "areas": queries.areas_for(request.user),
    }
    template = "inspection/_hoisting_rows.html" if request.htmx else "inspection/hoisting.html"
    return render(request, template, context)


@login_required
def gate(request):
    form = forms.GateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            event = gate_report(
                user=request.user,
                container_number=form.cleaned_data["container"],
                direction=form.cleaned_data["direction"],
                truck_plate=form.cleaned_data["truck_plate"],
            )
        except InvalidInput as error:
            _show(error.errors, form)
        else:
            if event.allowed:
                messages.success(
                    request, _("%(container)s may pass.") % {"container": event.container.number}
                )
            else:
                messages.error(
                    request,
                    _("%(container)s refused: %(reason)s")
                    % {"container": event.container.number, "reason": event.reason},
                )
            return redirect("inspection:gate")
    page = Paginator(queries.gate_events_for(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "inspection/gate.html", {"form": form, "page": page})


@login_required
def call_diversion(request, port_call_id: int):
    from inspection import diversion
    from inspection.models import DiversionInstruction

    call = queries.diversion_call_for_user(user=request.user, port_call_id=port_call_id)
    operates = call.terminal.operator_id in organisation_ids_for(request.user)
    if request.method == "POST" and operates:
        try:
            result = diversion.containers_report_discharged(
                user=request.user,
                port_call_id=call.pk,
                container_numbers=request.POST.getlist("container"),
            )
        except InvalidInput as error:
            for problems in error.errors.values():
                for problem in problems:
                    messages.error(request, problem)
        else:
            messages.success(
                request,
                _("%(count)s containers recorded as discharged.") % {"count": result["discharged"]},
            )
        return redirect(request.get_full_path())
    instructions = (
        DiversionInstruction.objects.filter(port_call=call)
        .select_related("container")
        .order_by("destination", "container__number")
    )
    page = Paginator(instructions, 100).get_page(request.GET.get("page"))
    context = {
        "call": call,
        "saved": diversion.lifts_saved(port_call_id=call.pk),
        "page": page,
        "may_report": operates and call.status == call.Status.BERTHED,
    }
    return render(request, "inspection/diversion.html", context)


@login_required
def ticket_file(request, inspection_id: int, kind: str, photo_id: int | None = None):
    """A ticket's scan image or one of its photos, only for those who may see the ticket."""
    ticket = queries.ticket_get_for_user(user=request.user, inspection_id=inspection_id)
    if kind == "scan" and ticket.scan_image:
        file = ticket.scan_image
    else:
        photo = ticket.photos.filter(pk=photo_id).first() if kind == "photo" else None
        if photo is None:
            raise Http404("No such file")
        file = photo.image
    return uploads.attachment_response(file)
