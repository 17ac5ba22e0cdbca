from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from port import uploads as port_uploads
from port.errors import InvalidInput
from zones import forms, queries, services
from zones.models import Movement


@login_required
def account(request):
    """A zone enterprise's account: its stock, its movements, and the one document to file."""
    account = queries.zone_enterprise_for(request.user)
    if account is None:
        raise PermissionDenied(_("This page is for enterprises of a bonded zone."))
    form = forms.MovementForm(request.POST or None)
    lines = forms.LineFormSet(request.POST or None, prefix="lines")
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        document, kept = _document(form, lines)
        try:
            [movement] = services.movement_file_many(
                user=request.user, documents=[document], source=Movement.Source.BROWSER
            )
        except InvalidInput as error:
            _show(error.errors.get("documents", {}).get("0", {}), form, lines, kept)
        else:
            messages.success(request, _("Filed %(number)s.") % {"number": movement.number})
            return redirect("zones:account")
    context = {
        "account": account,
        "stock": queries.stock_for(user=request.user).order_by("item_no"),
        "page": Paginator(queries.movements_for(user=request.user), 20).get_page(
            request.GET.get("page")
        ),
        "incoming": queries.transfers_incoming_for(user=request.user)[:20],
        "form": form,
        "lines": lines,
        "upload_form": forms.UploadForm(),
    }
    template = "zones/_account_body.html" if request.htmx else "zones/account.html"
    return render(request, template, context)


@login_required
@require_POST
def upload(request):
    """Keep the ERP file and send the user to watch a worker file it."""
    form = forms.UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a .csv or .xlsx file."))
        return redirect("zones:account")
    file = form.cleaned_data["file"]
    try:
        port_uploads.check_erp_file(file)
        upload = services.zone_upload_create(
            user=request.user, file_name=file.name, content=file.read()
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except InvalidInput as error:
        for message in error.errors.get("file", [])[:20]:
            messages.error(request, message)
    else:
        return redirect(upload)
    return redirect("zones:account")


@login_required
def upload_detail(request, upload_id: int):
    """An ERP file's progress (live), then its report: documents filed, errors by row."""
    upload = queries.upload_get_for_user(user=request.user, upload_id=upload_id)
    template = "zones/_upload_live.html" if request.htmx else "zones/upload.html"
    return render(request, template, {"upload": upload})


@login_required
def movement_detail(request, movement_id: int):
    """One document: its lines (with the duty of an exit), its pass, its history; while the
    truck has not passed, the corrected document or its cancellation."""
    movement = queries.movement_get_for_user(user=request.user, movement_id=movement_id)
    gate_pass = getattr(movement, "gate_pass", None)
    changeable = (
        movement.status == Movement.Status.AT_GATE
        and gate_pass is not None
        and gate_pass.status == gate_pass.Status.OPEN
        and queries.zone_enterprise_for(request.user) is not None
    )
    form = lines = None
    if changeable:
        form, lines = _amend_forms(request, movement, gate_pass)
    if request.method == "POST" and changeable:
        try:
            if "cancel" in request.POST:
                services.movement_cancel(
                    user=request.user,
                    movement_id=movement.pk,
                    reason=request.POST.get("reason", ""),
                )
                messages.success(request, _("Cancelled %(number)s.") % {"number": movement})
                return redirect("zones:movement", movement_id=movement.pk)
            if form.is_valid() and lines.is_valid():
                document, kept = _document(form, lines)
                services.movement_amend(
                    user=request.user, movement_id=movement.pk, document=document
                )
                messages.success(request, _("Amended %(number)s.") % {"number": movement})
                return redirect("zones:movement", movement_id=movement.pk)
        except InvalidInput as error:
            errors = error.errors
            if "cancel" in request.POST:
                for found in errors.values():
                    for message in found if isinstance(found, list) else [str(found)]:
                        messages.error(request, message)
            else:
                _show(errors, form, lines, kept)
    context = {
        "movement": movement,
        "gate_pass": gate_pass,
        "timeline": queries.movement_timeline(movement),
        "changeable": changeable,
        "form": form,
        "lines": lines,
    }
    return render(request, "zones/movement.html", context)


def _amend_forms(request, movement, gate_pass):
    if request.method == "POST" and "cancel" not in request.POST:
        return (
            forms.AmendForm(request.POST),
            forms.LineFormSet(request.POST, prefix="lines"),
        )
    initial = {
        "truck_plate": gate_pass.truck_plate,
        "container": gate_pass.container_number,
        "seal": gate_pass.seal_number,
        "declared_weight_kg": gate_pass.declared_weight_kg,
        "declaration_number": movement.declaration_number,
        "duty_amount": movement.duty_declared if movement.duty_declared is not None else "",
    }
    line_initial = [
        {f: _plain(getattr(line, f)) for f in forms.LineForm.base_fields}
        for line in movement.lines.all()
    ]
    return forms.AmendForm(initial=initial), forms.LineFormSet(initial=line_initial, prefix="lines")


@login_required
def gate_board(request, gate_id: int | None = None):
    """The gate officer's board: lanes, last passages, stopped trucks, answer times; live."""
    gates = list(queries.gates_for(user=request.user))
    if not gates:
        raise PermissionDenied(_("This page is for the customs office that runs a zone gate."))
    gate = queries.gate_get_for_user(user=request.user, gate_id=gate_id) if gate_id else gates[0]
    form = forms.GateReadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        read = dict(form.cleaned_data)
        read["containers"] = [c for c in read["containers"].replace(",", " ").split() if c]
        try:
            passage = services.gate_read(user=request.user, gate_id=gate.pk, read=read)
        except InvalidInput as error:
            _show(error.errors, form)
        else:
            messages.info(
                request,
                f"{passage.truck_plate}: {passage.get_decision_display()} · "
                f"{passage.get_reason_display()}",
            )
            return redirect("zones:gate_detail", gate_id=gate.pk)
    context = {"gates": gates, "board": queries.gate_board(gate=gate), "form": form}
    template = "zones/_gate_body.html" if request.htmx else "zones/gate.html"
    return render(request, template, context)


def _plain(value):
    """25.000 -> 25, for a form people read."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value


def _document(form, lines) -> tuple[dict, list[int]]:
    """The document the form holds, and which rows of the formset are its lines."""
    doc = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    kept = [
        i
        for i, line in enumerate(lines.forms)
        if any(v for k, v in line.cleaned_data.items() if k != "DELETE")
    ]
    doc["lines"] = [lines.forms[i].cleaned_data for i in kept]
    return doc, kept


def _show(errors: dict, form, lines=None, kept=()) -> None:
    for field, found in errors.items():
        if field == "lines" and lines is not None:
            if isinstance(found, dict):
                for index, line_errors in found.items():
                    for line_field, line_messages in line_errors.items():
                        for message in line_messages:
                            lines.forms[kept[int(index)]].add_error(
                                line_field if line_field in forms.LineForm.base_fields else None,
                                message,
                            )
            else:
                for message in found:
                    form.add_error(None, message)
            continue
        for message in found if isinstance(found, list) else [str(found)]:
            form.add_error(field if field in form.fields else None, message)
