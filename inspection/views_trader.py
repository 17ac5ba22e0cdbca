"""Officers' pages for what traders ask of the inspection: the access stage (two-stage
access), requests not to attend and booked inspection times. Views call services and
queries only."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from inspection import access, attendance, bookings, queries
from inspection.models import AccessCheck, AttendanceRequest
from port.errors import InvalidInput, TransitionNotAllowed
from port.queries import customs_office_ids_for

LIST_SIZE = 200


@login_required
def access_list(request):
    """Goods held at the access stage, then the latest decided; decide each."""
    errors, status = {}, 200
    if request.method == "POST":
        check = queries.access_check_get_for_user(
            user=request.user, check_id=request.POST.get("id")
        )
        try:
            access.access_check_decide(
                check_id=check.pk,
                officer=request.user,
                status=request.POST.get("status", ""),
                note=request.POST.get("note", ""),
            )
            return redirect("inspection:access")
        except (InvalidInput, TransitionNotAllowed, PermissionDenied) as error:
            errors[check.pk] = _messages(error)
            status = 400
    checks = queries.access_checks_for(user=request.user)
    context = {
        "held": _with_errors(
            checks.exclude(status=AccessCheck.Status.RELEASED)[:LIST_SIZE], errors
        ),
        "released": checks.filter(status=AccessCheck.Status.RELEASED).order_by("-decided_at")[:50],
    }
    template = "inspection/_access_body.html" if request.htmx else "inspection/access.html"
    return render(request, template, context, status=status)


@login_required
def attendance_list(request):
    """Requests not to attend at the officer's areas: open ones first; decide each."""
    errors, status = {}, 200
    if request.method == "POST" and request.POST.get("booking"):
        return _booking_confirm(request)
    if request.method == "POST":
        item = queries.attendance_request_get_for_user(
            user=request.user, request_id=request.POST.get("id")
        )
        try:
            attendance.attendance_decide(
                request_id=item.pk,
                officer=request.user,
                approve=request.POST.get("approve") == "1",
                note=request.POST.get("note", ""),
            )
            return redirect("inspection:attendance")
        except (InvalidInput, TransitionNotAllowed) as error:
            errors[item.pk] = _messages(error)
            status = 400
    requests = queries.attendance_requests_for(user=request.user)
    context = {
        "open": _with_errors(
            requests.filter(status=AttendanceRequest.Status.REQUESTED)[:LIST_SIZE], errors
        ),
        "decided": requests.exclude(status=AttendanceRequest.Status.REQUESTED).order_by(
            "-decided_at"
        )[:50],
        "office_ids": customs_office_ids_for(request.user),
        "bookings": queries.bookings_for_officer(user=request.user)[:LIST_SIZE],
        "booking_errors": {},
    }
    template = "inspection/_attendance_body.html" if request.htmx else "inspection/attendance.html"
    return render(request, template, context, status=status)


def _booking_confirm(request):
    """An officer confirms a booked inspection time, or moves it (`slot_start`)."""
    booking_id = request.POST.get("booking", "")
    try:
        bookings.booking_confirm(
            booking_id=int(booking_id) if booking_id.isdigit() else 0,
            officer=request.user,
            slot_start=request.POST.get("slot_start", ""),
        )
    except InvalidInput as error:
        requests = queries.attendance_requests_for(user=request.user)
        context = {
            "open": requests.filter(status=AttendanceRequest.Status.REQUESTED)[:LIST_SIZE],
            "decided": [],
            "bookings": queries.bookings_for_officer(user=request.user)[:LIST_SIZE],
            "booking_errors": {int(booking_id): _messages(error)},
        }
        return render(request, "inspection/attendance.html", context, status=400)
    return redirect("inspection:attendance")


@login_required
def booking_make(request, inspection_id: int):
    """The enterprise books a time for the inspection of one of its tickets; the form is on
    the declaration page, and comes back here with its errors (400)."""
    ticket = queries.ticket_get_for_trader(user=request.user, inspection_id=inspection_id)
    slots = [s for s in queries.slots_open(area=ticket.area) if s["left"] > 0]
    if request.method != "POST":
        return render(request, "inspection/booking_make.html", {"ticket": ticket, "slots": slots})
    try:
        bookings.booking_make(
            inspection_id=ticket.pk, user=request.user, slot_start=request.POST.get("slot_start")
        )
    except InvalidInput as error:
        context = {"ticket": ticket, "slots": slots, "errors": _messages(error)}
        return render(request, "inspection/booking_make.html", context, status=400)
    return redirect(ticket.decision.declaration)


@login_required
def attendance_ask(request, inspection_id: int):
    """The enterprise asks not to attend (免于到场) the inspection of one of its tickets; the
    form is on the declaration page, and comes back here with its errors (400)."""
    ticket = queries.ticket_get_for_trader(user=request.user, inspection_id=inspection_id)
    if request.method != "POST":
        return render(request, "inspection/attendance_ask.html", {"ticket": ticket})
    try:
        attendance.attendance_request(
            inspection_id=ticket.pk, user=request.user, reason=request.POST.get("reason", "")
        )
    except InvalidInput as error:
        context = {
            "ticket": ticket,
            "errors": _messages(error),
            "reason": request.POST.get("reason", ""),
        }
        return render(request, "inspection/attendance_ask.html", context, status=400)
    return redirect(ticket.decision.declaration)


def _with_errors(rows, errors: dict) -> list:
    rows = list(rows)
    for row in rows:
        row.errors = errors.get(row.pk, [])
    return rows


def _messages(error) -> list[str]:
    if isinstance(error, InvalidInput):
        return [m for messages in error.errors.values() for m in messages]
    if isinstance(error, PermissionDenied):
        return [str(error) or "Not allowed."]
    return [str(error)]
