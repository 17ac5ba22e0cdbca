import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from certificates import forms, mailings, pdf, queries, services
from certificates.tariffs import preference_for
from port.errors import InvalidInput, TransitionNotAllowed
from port.queries import organisation_ids_for
from port.timeline import timeline_for

HEADER_FIELDS = set(forms.CertificateForm.base_fields)


@login_required
def certificate_list(request):
    page = Paginator(queries.certificate_list(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "exporter_ids": set(organisation_ids_for(request.user))}
    return render(request, "certificates/list.html", context)


@login_required
def certificate_reviews(request):
    if not queries.is_certificate_officer(request.user):
        raise PermissionDenied
    context = {
        "queue": queries.certificate_review_queue(user=request.user),
        "mailings": queries.mailing_queue(user=request.user),
    }
    return render(request, "certificates/reviews.html", context)


@login_required
def certificate_new(request):
    form = forms.CertificateForm(
        request.POST or None,
        initial={"idempotency_key": uuid.uuid4().hex},
        offices=queries.issuing_offices_for(queries.exporter_for(request.user)),
    )
    items = forms.ItemFormSet(request.POST or None, prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            certificate = services.certificate_apply(
                user=request.user,
                application=_application(form, items),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except InvalidInput as error:
            _show_errors(error.errors, form, items)
        else:
            return redirect(certificate)
    return render(request, "certificates/new.html", {"form": form, "items": items})


@login_required
def certificate_resubmit(request, certificate_id: int):
    """The application form, filled with a returned application's values, to correct it."""
    certificate = queries.certificate_get_for_exporter(
        user=request.user, certificate_id=certificate_id
    )
    if certificate.status != certificate.Status.CORRECTION_REQUESTED:
        messages.error(request, _("This application is not waiting for a correction."))
        return redirect(certificate)
    form = forms.CertificateForm(
        request.POST or None,
        initial=forms.CertificateForm.initial_for(certificate),
        offices=queries.issuing_offices_for(certificate.exporter),
    )
    items = forms.ItemFormSet(
        request.POST or None,
        prefix="items",
        initial=[forms.ItemForm.initial_for(item) for item in certificate.items.all()],
    )
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            certificate = services.certificate_resubmit(
                certificate_id=certificate.pk,
                user=request.user,
                application=_application(form, items),
            )
        except InvalidInput as error:
            _show_errors(error.errors, form, items)
        except TransitionNotAllowed as error:  # resubmitted meanwhile, in another tab
            messages.error(request, str(error))
            return redirect(certificate)
        else:
            messages.success(request, _("Corrected and resubmitted."))
            return redirect(certificate)
    context = {"form": form, "items": items, "certificate": certificate}
    return render(request, "certificates/new.html", context)


@login_required
def certificate_detail(request, certificate_id: int):
    certificate = queries.certificate_get_for_user(user=request.user, certificate_id=certificate_id)
    items = list(certificate.items.all())
    preference = preference_for(certificate, items)
    context = {
        "certificate": certificate,
        "lines": list(zip(items, preference.items, strict=True)),
        "preference": preference,
        "mailing": queries.mailing_for(certificate),
        "timeline": timeline_for(certificate),
        "is_officer": queries.is_officer_for(request.user, certificate),
        "is_exporter": queries.is_exporter_member(request.user, certificate),
        "reason_form": forms.ReasonForm(),
        "note_form": forms.NoteForm(),
        "correction_form": forms.CorrectionForm(),
        "mailing_form": forms.MailingForm(),
        "locker_form": forms.LockerForm(),
    }
    return render(request, "certificates/detail.html", context)


@login_required
def certificate_pdf(request, certificate_id: int):
    certificate = queries.certificate_get_for_user(user=request.user, certificate_id=certificate_id)
    if certificate.status != certificate.Status.ISSUED:
        raise Http404("Only an issued certificate is printed")
    verify_url = request.build_absolute_uri(pdf.verification_path(certificate))
    response = HttpResponse(
        pdf.render_certificate(certificate, verify_url=verify_url), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="{certificate.number}.pdf"'
    return response


ACTIONS = {
    "approve": (
        forms.NoteForm,
        lambda c, u, d: services.certificate_approve(certificate_id=c.pk, officer=u, **d),
    ),
    "correction": (
        forms.CorrectionForm,
        lambda c, u, d: services.certificate_request_correction(
            certificate_id=c.pk, officer=u, note=d["note"], fields=d["boxes"]
        ),
    ),
    "reject": (
        forms.ReasonForm,
        lambda c, u, d: services.certificate_reject(certificate_id=c.pk, officer=u, **d),
    ),
    "revoke": (
        forms.ReasonForm,
        lambda c, u, d: services.certificate_revoke(certificate_id=c.pk, officer=u, **d),
    ),
    "replace": (
        forms.ReasonForm,
        lambda c, u, d: services.certificate_replace(certificate_id=c.pk, officer=u, **d),
    ),
    "mailing": (
        forms.MailingForm,
        lambda c, u, d: mailings.mailing_request(user=u, certificate_id=c.pk, **d).certificate,
    ),
    "locker": (forms.LockerForm, lambda c, u, d: _place_in_locker(c, u, **d)),
}


@login_required
@require_POST
def certificate_action(request, certificate_id: int, action: str):
    certificate = queries.certificate_get_for_user(user=request.user, certificate_id=certificate_id)
    if action not in ACTIONS:
        raise Http404("No such action")
    form_class, run = ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect(certificate)
    try:
        result = run(certificate, request.user, form.cleaned_data)
    except (InvalidInput, TransitionNotAllowed) as error:
        messages.error(request, _error_text(error))
        return redirect(certificate)
    messages.success(request, _("Done."))
    return redirect(result)


def verify(request):
    """Public: a certificate's data and status for its number and verification code."""
    form = forms.VerifyForm(request.GET or None)
    certificate, not_found = None, False
    if form.is_valid():
        certificate = queries.certificate_verify(
            number=form.cleaned_data["number"], code=form.cleaned_data["code"]
        )
        not_found = certificate is None
    context = {"form": form, "certificate": certificate, "not_found": not_found}
    if certificate is not None:
        items = list(certificate.items.all())
        context.update(items=items, replaced_by=getattr(certificate, "replaced_by", None))
    return render(request, "certificates/verify.html", context)


def _place_in_locker(certificate, user, *, locker: str):
    mailing = queries.mailing_for(certificate)
    if mailing is None:
        raise InvalidInput({"mailing": [_("No mailing was requested.")]})
    mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=user, locker=locker)
    return certificate


def _error_text(error) -> str:
    if isinstance(error, InvalidInput):
        return " ".join(str(m) for messages_ in error.errors.values() for m in messages_)
    return str(error)


def _application(form, items) -> services.ApplicationInput:
    fields = {k: v for k, v in form.cleaned_data.items() if k != "idempotency_key"}
    return services.ApplicationInput(
        items=[
            services.ItemInput(
                **{**item.cleaned_data, "non_originating_inputs": item.input_codes()}
            )
            for item in items.forms
            if item.cleaned_data
        ],
        **fields,
    )


def _show_errors(errors: dict, form, items) -> None:
    for field, field_messages in errors.items():
        if field == "items" and isinstance(field_messages, dict):
            for index, item_errors in field_messages.items():
                for item_field, item_messages in item_errors.items():
                    for message in item_messages:
                        items.forms[int(index)].add_error(item_field, message)
        else:
            target = field if field in HEADER_FIELDS else None
            for message in field_messages:
                form.add_error(target, message)
