import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from analytics import cache, dashboard, plan
from analytics.forms import DashboardFilterForm
from analytics.queries import scope_or_404
from analytics.templatetags.analytics import DIRECTIONS


@login_required
def dashboard_page(request):
    scope = scope_or_404(request.user)
    form = DashboardFilterForm(request.GET or None)
    filters = form.filters()
    tables = cache.dashboard_tables(scope, filters)
    context = {
        "form": form,
        "scope": scope,
        "tables": tables,
        "by_key": {t["key"]: t for t in tables},
        "direction_labels": {key: str(label) for key, label in DIRECTIONS.items()},
        "query": request.GET.urlencode(),
        "updated_at": timezone.now(),
    }
    template = "analytics/_dashboard_body.html" if request.htmx else "analytics/dashboard.html"
    return render(request, template, context)


@login_required
def export_csv(request, key: str):
    scope = scope_or_404(request.user)
    form = DashboardFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8"
        )
    table = dashboard.table_by_key(scope, form.filters(), key)
    if table is None:
        raise Http404("No such table")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="portwise-{key}.csv"'
    writer = csv.writer(response)
    writer.writerow([str(label) for _key, label, _kind in table.columns])
    for row in table.rows:
        writer.writerow(
            ["" if row.get(k) is None else row.get(k) for k, _label, _kind in table.columns]
        )
    return response


@login_required
def port_map(request):
    scope = scope_or_404(request.user)
    context = {
        "plan": plan.port_plan(scope),
        "scope": scope,
        "big": request.GET.get("big") == "1",
        "updated_at": timezone.now(),
    }
    template = "analytics/_map.html" if request.htmx else "analytics/map.html"
    return render(request, template, context)
