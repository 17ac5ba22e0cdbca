from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from inspection import queries
from port.queries import customs_office_ids_for


@login_required
def inspection_queue(request):
    page = Paginator(queries.inspection_queue(user=request.user), 50).get_page(
        request.GET.get("page")
    )
    template = "inspection/_queue_rows.html" if request.htmx else "inspection/queue.html"
    return render(
        request, template, {"page": page, "office_ids": customs_office_ids_for(request.user)}
    )
