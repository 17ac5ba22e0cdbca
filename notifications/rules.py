"""Which timeline events reach people, what they say, and by which channels by default.

A rule turns one event into the notification's kind and parameters, or None when the event
is not worth a person's attention. The event's organisation's members receive it: they are
the people who may see its subject. Texts are rendered in the reader's language from the
kind and its parameters, so one notification reads right in English and in Chinese.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class Kind:
    label: object  # lazy text, for the preferences page
    email: bool  # sent by e-mail unless the person turns it off
    sms: bool  # sent by SMS only if the person (or this default) says so
    text: Callable[[dict], str]
    link: Callable[[dict], str]


def _declaration_link(p: dict) -> str:
    return reverse("declarations:detail", args=[p["declaration_id"]])


def _certificate_link(p: dict) -> str:
    return reverse("certificates:detail", args=[p["certificate_id"]])


def _status(p: dict) -> str:
    return {
        "released": _("released"),
        "inspection_required": _("inspection required"),
        "issued": _("issued"),
        "rejected": _("rejected"),
        "correction_requested": _("returned for correction"),
        "held": _("held"),
        "refused": _("refused"),
        "approved": _("approved"),
    }.get(p["to"], p["to"])


def _boarding_status(p: dict) -> str:
    return {
        "booked": _("confirmed by the agency"),
        "completed": _("boarded"),
        "released": _("the vessel is released"),
        "cancelled": _("cancelled"),
    }.get(p["to"], p["to"])


def _stage(p: dict) -> str:
    return {"quarantine": _("quarantine"), "permits": _("permits")}.get(p["stage"], p["stage"])


KINDS: dict[str, Kind] = {
    "declaration.decided": Kind(
        gettext_lazy("A declaration is released or selected for inspection"),
        email=True,
        sms=False,
        text=lambda p: (
            _("Declaration %(number)s: %(status)s.") % {"number": p["number"], "status": _status(p)}
        ),
        link=_declaration_link,
    ),
    "declaration.step2": Kind(
        gettext_lazy("A full declaration (step 2) is due or overdue"),
        email=True,
        sms=False,
        text=lambda p: (
            (
                _("Declaration %(number)s: the full declaration was due on %(due)s and is overdue.")
                if p.get("overdue")
                else _(
                    "Declaration %(number)s: the full declaration is due on %(due)s (%(days)s days left)."
                )
            )
            % {"number": p["number"], "due": p["due"][:10], "days": p.get("days_left", "")}
        ),
        link=_declaration_link,
    ),
    "inspection.queued": Kind(
        gettext_lazy("A container reaches the inspection area (its call number)"),
        email=True,
        sms=True,
        text=lambda p: (
            _("Container %(container)s is at inspection area %(area)s: call number %(ticket)s.") % p
        ),
        link=_declaration_link,
    ),
    "inspection.access": Kind(
        gettext_lazy("Goods held or released at the access stage (quarantine, permits)"),
        email=True,
        sms=True,
        text=lambda p: (
            (
                _(
                    "Declaration %(number)s: held at the %(stage)s stage until it releases the goods."
                )
                if p["to"] == "held"
                else _("Declaration %(number)s: the %(stage)s stage has %(status)s the goods.")
            )
            % {"number": p["number"] or "—", "stage": _stage(p), "status": _status(p)}
        ),
        link=_declaration_link,
    ),
    "inspection.attendance": Kind(
        gettext_lazy("Customs decides a request not to attend an inspection"),
        email=True,
        sms=True,
        text=lambda p: (
            (
                _(
                    "Container %(container)s (ticket %(ticket)s): you need not attend the inspection."
                )
                if p["to"] == "approved"
                else _(
                    "Container %(container)s (ticket %(ticket)s): attend the inspection (%(note)s)."
                )
            )
            % p
        ),
        link=_declaration_link,
    ),
    "inspection.booking": Kind(
        gettext_lazy("Customs confirms or moves the inspection time you booked"),
        email=True,
        sms=True,
        text=lambda p: (
            _("Container %(container)s (ticket %(ticket)s): inspection confirmed for %(at)s.") % p
        ),
        link=_declaration_link,
    ),
    "shipping.boarding": Kind(
        gettext_lazy("A boarding of your vessel is confirmed, made, released or cancelled"),
        email=True,
        sms=False,
        text=lambda p: (
            _("Boarding of %(vessel)s %(voyage)s at %(time)s: %(status)s.")
            % {
                "vessel": p["vessel"],
                "voyage": p["voyage"],
                "time": p["scheduled_at"][:16].replace("T", " "),
                "status": _boarding_status(p),
            }
        ),
        link=lambda p: reverse("shipping:call", args=[p["port_call_id"]]),
    ),
    "certificate.decided": Kind(
        gettext_lazy("A certificate of origin is issued, rejected or returned"),
        email=True,
        sms=False,
        text=lambda p: (
            _("Certificate application %(reference)s: %(status)s.")
            % {"reference": p["reference"], "status": _status(p)}
        ),
        link=_certificate_link,
    ),
    "certificate.in_locker": Kind(
        gettext_lazy("A signed certificate is in the courier's locker (pickup code)"),
        email=True,
        sms=True,
        text=lambda p: (
            _(
                "Certificate %(reference)s is signed and in locker %(locker)s; the courier's pickup code is %(code)s."
            )
            % {"reference": p["reference"], "locker": p["locker"], "code": p["pickup_code"]}
        ),
        link=_certificate_link,
    ),
    "bill.issued": Kind(
        gettext_lazy("A tax bill is issued or becomes overdue"),
        email=True,
        sms=False,
        text=lambda p: (
            (
                _(
                    "Tax bill %(number)s (%(amount)s CNY) is overdue: pay it to draw on your guarantee again."
                )
                if p.get("overdue")
                else _("Tax bill %(number)s: %(amount)s CNY to pay by %(due)s.")
            )
            % {
                "number": p["number"],
                "amount": f"{p['total_cents'] / 100:,.2f}",
                "due": p.get("due", "")[:10],
            }
        ),
        link=lambda p: reverse("billing:detail", args=[p["bill_id"]]),
    ),
}


def kind_of(event: dict) -> str | None:
    """The notification kind an event makes, before its parameters are looked up."""
    kind, to = event["kind"], event["data"].get("to")
    if kind == "declaration.status_changed" and to in {"released", "inspection_required"}:
        return "declaration.decided"
    if kind in {"declaration.step2_reminder", "declaration.step2_overdue"}:
        return "declaration.step2"
    if kind == "inspection.queued":
        return "inspection.queued"
    if kind in {"inspection.access_held", "inspection.access_decided"}:
        return "inspection.access"
    if kind == "inspection.attendance_decided":
        return "inspection.attendance"
    if kind == "inspection.booked" and to == "confirmed":
        return "inspection.booking"
    if kind == "shipping.boarding_changed" and to in {
        "booked",
        "completed",
        "released",
        "cancelled",
    }:
        return "shipping.boarding"
    if kind == "certificate.status_changed" and to in {
        "issued",
        "rejected",
        "correction_requested",
    }:
        return "certificate.decided"
    if kind == "certificate.mailing_changed" and to == "in_locker":
        return "certificate.in_locker"
    if kind in {"bill.issued", "bill.overdue"}:
        return "bill.issued"
    return None


def render(kind: str, params: dict) -> tuple[str, str]:
    """(text, link) in the active language."""
    entry = KINDS[kind]
    return entry.text(params), entry.link(params)
