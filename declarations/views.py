import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from declarations import forms, queries, reference, services, uploads
from port import uploads as port_uploads
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.timeline import timeline_for

HEADER_FIELDS = {
    "direction",
    "kind",
    "summary",
    "enterprise",
    "port_call",
    "bl_number",
    "containers",
    *services.HEADER_NAMES,
}


@login_required
def declaration_list(request):
    filters = queries.declaration_filter_form(user=request.user, filters=request.GET)
    page = Paginator(filters.qs, 25).get_page(request.GET.get("page"))
    template = "declarations/_list_rows.html" if request.htmx else "declarations/list.html"
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "summaries": queries.summaries_awaiting_step2(user=request.user)[:10],
        "accounts": queries.guarantee_accounts_for(user=request.user),
    }
    return render(request, template, context)


@login_required
def declaration_new(request):
    summaries = queries.summaries_awaiting_step2(user=request.user)
    initial = {"idempotency_key": uuid.uuid4().hex}
    if request.GET.get("summary", "").isdigit():
        summary = summaries.filter(pk=request.GET["summary"]).first()
        if summary is not None:
            header, items_initial = forms.initial_for(summary)
            initial.update(
                header, kind="full", summary=summary.pk, idempotency_key=initial["idempotency_key"]
            )
    form = forms.DeclarationForm(
        request.POST or None, user=request.user, summaries=summaries, initial=initial
    )
    items = forms.ItemFormSet(request.POST or None, prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            declaration = services.declaration_file_input(
                user=request.user,
                filing=form.filing_input(items),
                idempotency_key=form.cleaned_data["idempotency_key"],
                submit=request.POST.get("action") != "draft",
            )
        except InvalidInput as error:
            _show_errors(error.errors, form, items)
        else:
            return redirect(declaration)
    return render(request, "declarations/new.html", {"form": form, "items": items})


@login_required
def declaration_edit(request, declaration_id: int):
    """Edit a draft, or amend a submitted declaration (with a reason) until its release."""
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration_id)
    amending = declaration.is_amendable
    if not amending and declaration.status != declaration.Status.DRAFT:
        return redirect(declaration)
    header, item_rows = forms.initial_for(declaration)
    summaries = queries.summaries_awaiting_step2(user=request.user)
    form = forms.DeclarationForm(
        request.POST or None, user=request.user, summaries=summaries, initial=header
    )
    # Initial rows only for the blank page: bound to them, an unchanged row counts as empty.
    items = forms.ItemFormSet(
        request.POST or None,
        prefix="items",
        initial=None if request.method == "POST" else item_rows,
    )
    reason = forms.ReasonForm(request.POST or None) if amending else None
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            _save(request, declaration, form, items, amending)
        except InvalidInput as error:
            _show_errors(error.errors, form, items, reason)
        except TransitionNotAllowed:
            return redirect(declaration)
        else:
            return redirect(declaration)
    context = {"form": form, "items": items, "declaration": declaration, "reason_form": reason}
    return render(request, "declarations/new.html", context)


@login_required
def declaration_detail(request, declaration_id: int):
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration_id)
    context = {
        "declaration": declaration,
        "decisions": queries.declaration_decisions(declaration=declaration),
        "timeline": timeline_for(declaration),
        "reason_form": forms.ReasonForm(),
        **queries.declaration_detail_extras(user=request.user, declaration=declaration),
    }
    template = "declarations/_live.html" if request.htmx else "declarations/detail.html"
    return render(request, template, context)


@login_required
@require_POST
def declaration_submit(request, declaration_id: int):
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration_id)
    try:
        services.declaration_submit(declaration=declaration, user=request.user)
    except (InvalidInput, TransitionNotAllowed) as error:
        return _detail_with_error(request, declaration, error)
    return redirect(declaration)


@login_required
@require_POST
def declaration_withdraw(request, declaration_id: int):
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration_id)
    try:
        services.declaration_withdraw(
            declaration_id=declaration.pk, user=request.user, reason=request.POST.get("reason", "")
        )
    except (InvalidInput, TransitionNotAllowed) as error:
        return _detail_with_error(request, declaration, error)
    return redirect(declaration)


@login_required
def lookup_hs(request):
    """HS 2022 subheadings as the filer types a code or a word."""
    rows = reference.hs_suggestions(request.GET.get("q", ""))
    return JsonResponse({"results": [{"code": c, "description": d} for c, d in rows]})


@login_required
def lookup_cas(request):
    """CAS numbers from the shipped table, with the HS subheading each maps to."""
    entries = reference.cas_suggestions(request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {"cas_number": e.cas_number, "hs_code": e.hs_code, "name": e.name} for e in entries
            ]
        }
    )


def _save(request, declaration, form, items, amending):
    filing = form.filing_input(items)
    if amending:
        reason = request.POST.get("reason", "")
        return services.declaration_amend(
            declaration_id=declaration.pk, user=request.user, filing=filing, reason=reason
        )
    try:
        declaration = services.declaration_update(
            declaration_id=declaration.pk, user=request.user, filing=filing
        )
    except NotYours:
        raise Http404 from None
    if request.POST.get("action") != "draft":
        services.declaration_submit(declaration=declaration, user=request.user)
    return declaration


def _detail_with_error(request, declaration, error):
    if isinstance(error, InvalidInput):
        messages = [m for field in error.errors.values() for m in field if isinstance(m, str)]
    else:
        messages = [str(error)]
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration.pk)
    context = {
        "declaration": declaration,
        "decisions": queries.declaration_decisions(declaration=declaration),
        "timeline": timeline_for(declaration),
        "reason_form": forms.ReasonForm(request.POST),
        "action_errors": messages,
        **queries.declaration_detail_extras(user=request.user, declaration=declaration),
    }
    return render(request, "declarations/detail.html", context, status=400)


def _show_errors(errors: dict, form, items, reason=None) -> None:
    for field, messages in errors.items():
        if field == "items" and isinstance(messages, dict):
            for index, item_errors in messages.items():
                for item_field, item_messages in item_errors.items():
                    for message in item_messages:
                        items.forms[int(index)].add_error(item_field, message)
        elif field == "reason" and reason is not None:
            for message in messages:
                reason.add_error("reason", message)
        else:
            target = field if field in HEADER_FIELDS else None
            for message in messages:
                form.add_error(target, message)


@login_required
def upload_list(request):
    """The ERP upload form and the user's uploads."""
    error = None
    if request.method == "POST":
        file = request.FILES.get("file")
        try:
            if file is None:
                raise InvalidInput({"file": [_("Choose a CSV or XLSX file.")]})
            _check_erp_file(file)
            upload = uploads.erp_upload_create(
                user=request.user, file_name=file.name, content=file.read()
            )
        except InvalidInput as refused:
            error = refused.errors.get("file") or [str(m) for m in refused.errors.values()]
        else:
            return redirect(upload)
    page = Paginator(queries.erp_upload_list(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "declarations/uploads.html",
        {"page": page, "file_errors": error},
        status=400 if error else 200,
    )


def _check_erp_file(file) -> None:
    """The content and size check shared by every upload (port.uploads), before reading."""
    try:
        port_uploads.check_erp_file(file)
    except ValidationError as refused:
        raise InvalidInput({"file": refused.messages}) from None


@login_required
def upload_detail(request, upload_id: int):
    upload = queries.erp_upload_get_for_user(user=request.user, upload_id=upload_id)
    template = "declarations/_upload_live.html" if request.htmx else "declarations/upload.html"
    return render(request, template, {"upload": upload})
