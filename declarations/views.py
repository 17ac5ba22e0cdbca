import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from declarations import forms, queries, services
from inspection import queries as inspection_queries
from port.errors import InvalidInput
from port.timeline import timeline_for

HEADER_FIELDS = {"enterprise", "port_call", "bl_number", "containers"}


@login_required
def declaration_list(request):
    page = Paginator(queries.declaration_list(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    template = "declarations/_list_rows.html" if request.htmx else "declarations/list.html"
    return render(request, template, {"page": page})


@login_required
def declaration_new(request):
    form = forms.DeclarationForm(
        request.POST or None, user=request.user, initial={"idempotency_key": uuid.uuid4().hex}
    )
    items = forms.ItemFormSet(request.POST or None, prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            declaration = _file(request, form, items)
        except InvalidInput as error:
            _show_errors(error.errors, form, items)
        else:
            return redirect(declaration)
    return render(request, "declarations/new.html", {"form": form, "items": items})


@login_required
def declaration_detail(request, declaration_id: int):
    declaration = queries.declaration_get_for_user(user=request.user, declaration_id=declaration_id)
    context = {
        "declaration": declaration,
        "decisions": inspection_queries.decisions_for_declaration(declaration_id=declaration.pk),
        "timeline": timeline_for(declaration),
    }
    template = "declarations/_live.html" if request.htmx else "declarations/detail.html"
    return render(request, template, context)


def _file(request, form, items):
    return services.declaration_file(
        user=request.user,
        enterprise_id=form.cleaned_data["enterprise"].pk,
        port_call_id=form.cleaned_data["port_call"].pk,
        bl_number=form.cleaned_data["bl_number"],
        container_numbers=form.container_numbers(),
        items=[services.ItemInput(**item) for item in items.cleaned_data if item],
        idempotency_key=form.cleaned_data["idempotency_key"],
    )


def _show_errors(errors: dict, form, items) -> None:
    for field, messages in errors.items():
        if field == "items" and isinstance(messages, dict):
            for index, item_errors in messages.items():
                for item_field, item_messages in item_errors.items():
                    for message in item_messages:
                        items.forms[int(index)].add_error(item_field, message)
        else:
            target = field if field in HEADER_FIELDS else None
            for message in messages:
                form.add_error(target, message)
