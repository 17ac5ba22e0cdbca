from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from notifications import queries, rules, services
from notifications.forms import PreferencesForm


@login_required
def notification_list(request):
    page = Paginator(queries.notification_list(user=request.user), 30).get_page(
        request.GET.get("page")
    )
    items = []
    for notification in page:
        text, link = rules.render(notification.kind, notification.data)
        items.append({"notification": notification, "text": text, "link": link})
    return render(request, "notifications/list.html", {"page": page, "items": items})


@login_required
def badge(request):
    (count,) = queries.unread_counts(user_ids=[request.user.pk]).values()
    return render(request, "notifications/badge.html", {"unread": count})


@login_required
@require_POST
def mark_read(request):
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    services.notifications_mark_read(user=request.user, notification_ids=ids)
    return redirect("notifications:list")


@login_required
def preferences(request):
    contact, rows = queries.preferences_for(user=request.user)
    form = PreferencesForm(request.POST or None, contact=contact, rows=rows)
    if request.method == "POST" and form.is_valid():
        services.preferences_set(user=request.user, **form.choices())
        from django.contrib import messages

        messages.success(request, _("Your notification settings are saved."))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form, "rows": form.rows()})
