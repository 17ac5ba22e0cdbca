import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from port.errors import InvalidInput, TransitionNotAllowed
from port.timeline import timeline_for
from shipping import boardings, cargo, edifact_imports, forms, queries, services
from shipping.filing_input import DangerousGoodInput, FilingInput, PersonInput
from shipping.models import HEALTH_QUESTIONS, VesselFiling

PERSON_FIELDS = set(forms.PersonForm.base_fields)
GOOD_FIELDS = set(forms.DangerousGoodForm.base_fields)


@login_required
def filing_list(request):
    page = Paginator(queries.filing_list(user=request.user), 25).get_page(request.GET.get("page"))
    template = "shipping/_filing_rows.html" if request.htmx else "shipping/filings.html"
    return render(request, template, {"page": page, "is_agent": queries.is_agent(request.user)})


@login_required
def filing_detail(request, filing_id: int):
    filing = queries.filing_get_for_user(user=request.user, filing_id=filing_id)
    my_review = queries.review_for_user(user=request.user, filing=filing)
    is_owner = queries.is_filing_agent(user=request.user, filing=filing)
    timeline = timeline_for(filing).select_related("actor")
    if not is_owner:  # an agency does not read the other agencies' decisions
        timeline = timeline.exclude(
            Q(kind="shipping.review_decided") & ~Q(data__agency=my_review.agency_kind)
        )
    context = {
        "filing": filing,
        "reviews": list(filing.reviews.all()),
        "my_review": my_review,
        "is_owner": is_owner,
        "health": [(HEALTH_QUESTIONS[k], filing.health.get(k)) for k in HEALTH_QUESTIONS],
        "timeline": timeline,
        "review_form": forms.ReviewForm(),
    }
    template = "shipping/_filing_live.html" if request.htmx else "shipping/filing.html"
    return render(request, template, context)


@login_required
@require_POST
def review_decide(request, filing_id: int):
    filing = queries.filing_get_for_user(user=request.user, filing_id=filing_id)
    review = queries.review_for_user(user=request.user, filing=filing)
    if review is None:
        raise PermissionDenied
    form = forms.ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect(filing)
    try:
        services.review_decide(review_id=review.pk, user=request.user, **form.cleaned_data)
    except (InvalidInput, TransitionNotAllowed) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Your decision is recorded."))
    return redirect(filing)


@login_required
def dg_flags(request):
    if not queries.is_maritime(request.user):
        raise PermissionDenied
    page = Paginator(queries.dg_flag_queue(user=request.user), 50).get_page(request.GET.get("page"))
    template = "shipping/_dg_rows.html" if request.htmx else "shipping/dg_flags.html"
    return render(request, template, {"page": page, "resolve_form": forms.ResolveForm()})


def error_text(error) -> str:
    if isinstance(error, PermissionDenied):
        return str(error) or _("Your organisation may not do this.")
    if isinstance(error, InvalidInput):
        return " ".join(_flatten(error.errors))
    return str(error)


def _flatten(errors) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _flatten(value)]
    return [str(m) for m in errors]


@login_required
def call_list(request):
    page = Paginator(queries.port_call_list(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request, "shipping/calls.html", {"page": page, "is_agent": queries.is_agent(request.user)}
    )


@login_required
def call_detail(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    manifest = Paginator(queries.manifest_for_user(user=request.user, port_call=call), 50)
    context = {
        "call": call,
        "filings": queries.filing_list(user=request.user).filter(port_call=call),
        "can_record": queries.can_record_port_call(request.user),
        "is_agent": queries.is_agent(request.user),
        "is_agency": queries.is_reviewing_agency(request.user),
        "may_report_discharge": call.status == call.Status.BERTHED
        and queries.operates_terminal_of(user=request.user, port_call=call),
        "berth_form": forms.BerthForm(call=call),
        "manifest": manifest.get_page(request.GET.get("page")),
        "manifest_form": forms.ManifestLineForm(),
        "upload_form": forms.UploadForm(),
        "imports": queries.imports_for(user=request.user, port_call=call),
        "flags": queries.dg_flags_for_call(user=request.user, port_call=call),
        "boardings": queries.boardings_for(user=request.user, port_call=call),
        "boarding_form": forms.BoardingForm(),
        "boarding_request_form": forms.BoardingRequestForm(
            agencies=queries.reviewing_agencies(port_id=call.port_id)
        ),
        "may_request_boarding": queries.boarding_requester(user=request.user, port_call=call)
        is not None,
        "timeline": timeline_for(call).select_related("actor"),
    }
    template = "shipping/_call_live.html" if request.htmx else "shipping/call.html"
    return render(request, template, context)


@login_required
@require_POST
def call_action(request, port_call_id: int, action: str):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    try:
        if action == "berthed":
            form = forms.BerthForm(request.POST, call=call)
            berth_id = int(form.data.get("berth") or 0) or None
            services.port_call_mark_berthed(
                port_call_id=call.pk, user=request.user, berth_id=berth_id
            )
        elif action == "departed":
            services.port_call_mark_departed(port_call_id=call.pk, user=request.user)
        else:
            raise Http404("No such action")
    except (InvalidInput, TransitionNotAllowed, ValueError) as error:
        messages.error(request, error_text(error))
    except PermissionDenied:
        messages.error(request, _("Your organisation may not record berthing or departure."))
    else:
        messages.success(request, _("Recorded."))
    return redirect("shipping:call", call.pk)


@login_required
def filing_new(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    if not queries.is_agent(request.user):
        raise PermissionDenied
    direction = request.GET.get("direction") or request.POST.get("direction") or "arrival"
    if direction not in VesselFiling.Direction.values:
        raise Http404("No such direction")
    initial = {"idempotency_key": uuid.uuid4().hex, "crew_count": "", "passenger_count": "0"}
    # A departure starts from the arrival filing: the same master, crew and health answers.
    arrival = (
        queries.filing_list(user=request.user)
        .filter(port_call=call, direction=VesselFiling.Direction.ARRIVAL)
        .exclude(status=VesselFiling.Status.REJECTED)
        .first()
        if direction == VesselFiling.Direction.DEPARTURE
        else None
    )
    if arrival is not None:
        initial.update(forms.FilingForm.initial_for(arrival))
    return _filing_form(request, call, direction, initial=initial, filing=None, source=arrival)


@login_required
def filing_resubmit(request, filing_id: int):
    filing = queries.filing_get_for_user(user=request.user, filing_id=filing_id)
    if not queries.is_filing_agent(user=request.user, filing=filing):
        raise PermissionDenied
    initial = forms.FilingForm.initial_for(filing)
    return _filing_form(
        request, filing.port_call, filing.direction, initial=initial, filing=filing, source=filing
    )


def _filing_form(request, call, direction, *, initial, filing, source):
    """The filing form; `source` is the filing whose lists prefill it (resubmit, departure)."""
    post = request.POST or None
    form = forms.FilingForm(post, initial=initial)
    people = list(source.people.all()) if source else []
    crew = forms.CrewFormSet(post, prefix="crew", initial=_rows(people, "crew"))
    passengers = forms.PassengerFormSet(
        post, prefix="passengers", initial=_rows(people, "passenger")
    )
    goods = forms.DangerousGoodFormSet(
        post,
        prefix="goods",
        initial=[_good_row(g) for g in filing.dangerous_goods.all()] if filing else [],
    )
    valid = post and all(f.is_valid() for f in (form, crew, passengers, goods))
    if valid:
        try:
            saved = _save_filing(request, call, direction, form, crew, passengers, goods, filing)
        except (InvalidInput, TransitionNotAllowed) as error:
            _show_errors(error, form, crew, passengers, goods)
        else:
            messages.success(request, _("Filed to the five agencies."))
            return redirect(saved)
    context = {
        "call": call,
        "direction": direction,
        "filing": filing,
        "form": form,
        "crew": crew,
        "passengers": passengers,
        "goods": goods,
    }
    return render(request, "shipping/filing_form.html", context)


def _save_filing(request, call, direction, form, crew, passengers, goods, filing):
    data = form.cleaned_data
    header = {
        k: data[k]
        for k in (
            "master_name",
            "last_port",
            "next_port",
            "crew_count",
            "passenger_count",
            "cargo_description",
            "remarks",
        )
    }
    filing_input = FilingInput(
        **header,
        health=form.health(),
        crew=[PersonInput(**f.cleaned_data) for f in crew.forms if f.cleaned_data],
        passengers=[PersonInput(**f.cleaned_data) for f in passengers.forms if f.cleaned_data],
        dangerous_goods=[
            DangerousGoodInput(**f.cleaned_data) for f in goods.forms if f.cleaned_data
        ],
    )
    if filing is not None:
        return services.filing_resubmit(user=request.user, filing_id=filing.pk, filing=filing_input)
    return services.filing_submit(
        user=request.user,
        port_call_id=call.pk,
        direction=direction,
        filing=filing_input,
        idempotency_key=data["idempotency_key"],
    )


def _rows(people, role) -> list[dict]:
    return [{name: getattr(p, name) for name in PERSON_FIELDS} for p in people if p.role == role]


def _good_row(good) -> dict:
    return {name: getattr(good, name) for name in GOOD_FIELDS}


def _show_errors(error, form, crew, passengers, goods) -> None:
    if isinstance(error, TransitionNotAllowed):
        form.add_error(None, str(error))
        return
    formsets = {"crew": crew, "passengers": passengers, "dangerous_goods": goods}
    for field, problems in error.errors.items():
        if field in formsets and isinstance(problems, dict):
            filled = [f for f in formsets[field].forms if f.cleaned_data]
            for index, row_errors in problems.items():
                for row_field, row_messages in row_errors.items():
                    for message in row_messages:
                        filled[int(index)].add_error(row_field, message)
        else:
            target = field if field in form.fields else None
            for message in _flatten(problems):
                form.add_error(target, message)


@login_required
@require_POST
def manifest_add(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    form = forms.ManifestLineForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect("shipping:call", call.pk)
    try:
        cargo.manifest_add_lines(
            user=request.user,
            port_call_id=call.pk,
            lines=[cargo.ManifestLineInput(**form.cleaned_data)],
            source="browser",
        )
    except InvalidInput as error:
        messages.error(request, error_text(error))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The manifest line is saved."))
    return redirect("shipping:call", call.pk)


@login_required
@require_POST
def edifact_upload(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    form = forms.UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect("shipping:call", call.pk)
    upload = form.cleaned_data["file"]
    try:
        edifact_imports.edifact_import_create(
            user=request.user, file_name=upload.name, content=upload.read(), port_call_id=call.pk
        )
    except (InvalidInput, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("The file is being imported; its result appears below."))
    return redirect("shipping:call", call.pk)


@login_required
@require_POST
def boarding_book(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    form = forms.BoardingForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form.errors)
        boardings.boarding_book(user=request.user, port_call_id=call.pk, **form.cleaned_data)
    except (InvalidInput, PermissionDenied) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("The boarding is booked."))
    return redirect("shipping:call", call.pk)


@login_required
@require_POST
def boarding_request(request, port_call_id: int):
    call = queries.port_call_get_for_user(user=request.user, port_call_id=port_call_id)
    form = forms.BoardingRequestForm(
        request.POST, agencies=queries.reviewing_agencies(port_id=call.port_id)
    )
    try:
        if not form.is_valid():
            raise InvalidInput(form.errors)
        boardings.boarding_request(
            user=request.user,
            port_call_id=call.pk,
            agency_id=form.cleaned_data["agency"],
            scheduled_at=form.cleaned_data["scheduled_at"],
            purpose=form.cleaned_data["purpose"],
        )
    except InvalidInput as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("The boarding is requested; the agency confirms it."))
    return redirect("shipping:call", call.pk)


BOARDING_ACTIONS = {
    "confirm": boardings.boarding_confirm,
    "complete": boardings.boarding_complete,
    "release": boardings.boarding_release,
    "cancel": boardings.boarding_cancel,
}


@login_required
@require_POST
def boarding_action(request, boarding_id: int, action: str):
    boarding = queries.boarding_get_for_user(user=request.user, boarding_id=boarding_id)
    run = BOARDING_ACTIONS.get(action)
    if run is None:
        raise Http404("No such action")
    try:
        run(boarding_id=boarding.pk, user=request.user)
    except (TransitionNotAllowed, PermissionDenied) as error:
        messages.error(request, str(error) or _("Only the agency does this."))
    if request.POST.get("back") == "list":
        return redirect("shipping:boardings")
    return redirect("shipping:call", boarding.port_call_id)


@login_required
def boarding_list(request):
    """Boardings of the agent's calls or the agency's own, with booking → release times."""
    context = {
        "boardings": queries.boarding_list(user=request.user)[:200],
        "times": queries.boarding_times(user=request.user),
        "is_agency": queries.is_reviewing_agency(request.user),
    }
    template = "shipping/_boardings_body.html" if request.htmx else "shipping/boardings.html"
    return render(request, template, context)


@login_required
@require_POST
def dg_flag_resolve(request, flag_id: int):
    if not queries.dg_flag_queue(user=request.user).filter(pk=flag_id).exists():
        raise Http404("No such finding")
    form = forms.ResolveForm(request.POST)
    try:
        cargo.dg_flag_resolve(flag_id=flag_id, user=request.user, note=form.data.get("note", ""))
    except (InvalidInput, TransitionNotAllowed) as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("The finding is resolved."))
    return redirect("shipping:dg_flags")


@login_required
def call_new(request):
    if not queries.is_agent(request.user):
        raise PermissionDenied
    form = forms.CallForm(request.POST or None, terminals=queries.terminals_for(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            call = services.port_call_announce(
                user=request.user, call=services.CallInput(**form.cleaned_data)
            )
        except InvalidInput as error:
            for field, field_messages in error.errors.items():
                for message in field_messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("The call is announced."))
            return redirect("shipping:call", call.pk)
    return render(request, "shipping/call_form.html", {"form": form})
