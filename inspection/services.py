"""Every write to inspection data: rule sets, decisions, tickets, results, expert opinions
(the port gate's checks are in `inspection.gate`)."""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, Max, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import assessed as declaration_assessed
from declarations import events as declaration_events
from declarations import queries as declaration_queries
from inspection import attendance, engine, events, queries, rules
from inspection.models import (
    Decision,
    ExpertConsultation,
    Inspection,
    InspectionPhoto,
    Outcome,
    RiskRule,
    RuleSetVersion,
)
from inspection.tasks import decisions_make_for_port_call_task
from port import live, outbox, uploads
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import InspectionArea, Organisation, TimelineEvent, User
from port.queries import customs_office_ids_for
from port.timeline import timeline_record
from port.transitions import transition
from shipping import queries as shipping_queries

MAX_PHOTOS = 20  # photos recorded at once on a ticket

# ---------------------------------------------------------------- rule sets


@transaction.atomic
def rule_set_activate(*, officer: User | None) -> RuleSetVersion:
    """Snapshot the active rules as the next rule-set version, with a fresh sampling seed.

    Decisions made from now on point to it. The version row (who, when, what) is the
    audit record of the activation. After commit, queues one re-assessment task per
    vessel call that still has open declarations (`decisions_make_for_port_call`), so
    that what is not yet released is decided by the new rules. Returns the current
    version unchanged, and queues nothing, when the active rules are its snapshot.
    """
    # One activation at a time: the version numbers must not race.
    current = RuleSetVersion.objects.select_for_update().order_by("-number").first()
    snapshot = _active_rule_snapshots()
    if current is not None and current.rules == snapshot:
        return current
    version = RuleSetVersion.objects.create(
        number=(current.number + 1) if current else 1,
        rules=snapshot,
        seed=secrets.token_hex(8),
        activated_by=officer,
    )
    outbox.enqueue_many(
        (decisions_make_for_port_call_task.name, {"port_call_id": port_call_id})
        for port_call_id in queries.port_call_ids_with_open_assessments()
    )
    return version


def _active_rule_snapshots() -> list[dict]:
    active = RiskRule.objects.filter(is_active=True).prefetch_related("watched_enterprises")
    return [
        rules.rule_snapshot(rule, [org.pk for org in rule.watched_enterprises.all()])
        for rule in active.order_by("priority", "pk")
    ]


def rule_dry_run(*, rule: RiskRule, watched_enterprise_ids: list[int], days: int = 30) -> dict:
    """What a rule would have selected among the last `days` days' declarations.

    Reads the declarations in a fixed number of queries and evaluates in memory; writes
    nothing. Uses a fixed seed, so the same history gives the same answer.
    """
    snapshot = rules.rule_snapshot(rule, watched_enterprise_ids)
    snapshot["id"] = snapshot["id"] or 0
    since = timezone.now() - timedelta(days=days)
    declarations = declaration_queries.declarations_for_assessment().filter(submitted_at__gte=since)
    compiled = engine.compile_rules([snapshot])
    selected, declarations_hit, containers_seen = [], 0, 0
    dangerous_by_call: dict[int, frozenset[str]] = {}
    for declaration in declarations.iterator(chunk_size=500):
        if declaration.port_call_id not in dangerous_by_call:
            dangerous_by_call[declaration.port_call_id] = shipping_queries.dangerous_containers(
                port_call_id=declaration.port_call_id
            )
        consignment = _consignment(declaration, dangerous_by_call[declaration.port_call_id])
        containers_seen += len(consignment.containers)
        decided = compiled.evaluate(consignment, seed="dry-run")
        hit = [number for number, (outcome, _hits) in decided.items() if outcome != Outcome.RELEASE]
        if hit:
            declarations_hit += 1
            selected.extend({"declaration": declaration.number, "container": n} for n in hit)
    return {
        "days": days,
        "declarations_hit": declarations_hit,
        "containers_selected": len(selected),
        "containers_seen": containers_seen,
        "selected": selected[:200],
    }


# ---------------------------------------------------------------- decisions


def _consignment(declaration, dangerous: frozenset[str] | None = None) -> rules.Consignment:
    """What the rules read of a declaration. `dangerous` are the containers of its call that
    a manifest lists as dangerous goods; asked of the shipping app when not given."""
    items = list(declaration.items.all())
    if dangerous is None:
        dangerous = shipping_queries.dangerous_containers(port_call_id=declaration.port_call_id)
    net_weight = declaration.net_weight
    value = sum((item.value for item in items), Decimal(0))
    return rules.Consignment(
        declaration_id=declaration.pk,
        bl_number=declaration.bl_number,
        enterprise_id=declaration.enterprise_id,
        credit_rating=declaration.enterprise.credit_rating,
        hs_codes=tuple(item.hs_code for item in items),
        origin_countries=tuple(item.origin_country for item in items),
        containers=tuple(c.number for c in declaration.containers.all()),
        filed_on=timezone.localdate(declaration.submitted_at or timezone.now()),
        value_per_kg=(value / net_weight) if net_weight else None,
        is_summary=declaration.kind == "summary",
        dangerous_containers=dangerous,
    )


@transaction.atomic
def port_call_reassess(*, port_call_id: int, officer: User) -> dict:
    """An officer asks for a vessel call's open declarations to be assessed again.

    Records who asked on the call's timeline and, after commit, queues the call's one
    re-assessment task. Raises PermissionDenied for anyone but a customs officer,
    NotYours for a call at another office's port, and InvalidInput (on `port_call`) when
    nothing of the call is open to re-assessment. Returns what was queued.
    """
    office_ids = customs_office_ids_for(officer)
    if not office_ids:
        raise PermissionDenied(_("Only customs officers re-assess a vessel call."))
    call = queries.port_call_get_for_officer(user=officer, port_call_id=port_call_id)
    declaration_ids = declaration_queries.declaration_ids_open_for_call(port_call_id=call.pk)
    if not declaration_ids:
        raise InvalidInput(
            {"port_call": [_("No declaration of this vessel call is open to re-assessment.")]}
        )
    version = RuleSetVersion.objects.defer("rules").order_by("-number").first()
    timeline_record(
        subject=call,
        kind=TimelineEvent.Kind.PORT_CALL_REASSESSMENT_REQUESTED,
        actor=officer,
        organisation=Organisation.objects.filter(pk__in=office_ids, port=call.port_id).first(),
        data={
            "declarations": len(declaration_ids),
            "rule_set_version": version.number if version else None,
        },
    )
    outbox.enqueue(
        decisions_make_for_port_call_task.name, port_call_id=call.pk, actor_id=officer.pk
    )
    return {
        "port_call": call.pk,
        "declarations": len(declaration_ids),
        "rule_set_version": version.number if version else None,
    }


@transaction.atomic
def decision_override(*, decision_id: int, officer: User, outcome: str, reason: str) -> Decision:
    """An officer replaces the rules' outcome for a container, with a reason.

    Keeps the rules' outcome beside it and records a timeline event. Once the container
    has an inspection ticket, the inspection decides instead. When every container of the
    declaration is then released, the declaration is released.
    """
    decision = Decision.objects.select_for_update().select_related("container").get(pk=decision_id)
    _require_officer_of(officer, _office_of_decision(decision))
    errors = {}
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Choose an outcome from the list.")]
    if not reason.strip():
        errors["reason"] = [_("Say why the rules' decision is overridden.")]
    if errors:
        raise InvalidInput(errors)
    if Inspection.objects.filter(decision=decision).exists():
        raise TransitionNotAllowed(obj=decision, old=decision.outcome, new=outcome)
    old = decision.outcome
    decision.overridden_outcome = decision.overridden_outcome or old
    decision.outcome = outcome
    decision.override_reason = reason.strip()
    decision.overridden_by = officer
    if outcome != Outcome.RELEASE and decision.inspection_area_id is None:
        decision.inspection_area = InspectionArea.objects.filter(
            terminal_id=decision.declaration.port_call.terminal_id
        ).first()
    decision.save(
        update_fields=[
            "outcome",
            "overridden_outcome",
            "override_reason",
            "overridden_by",
            "inspection_area",
            "updated_at",
        ]
    )
    timeline_record(
        subject=decision,
        kind=TimelineEvent.Kind.DECISION_OVERRIDDEN,
        actor=officer,
        organisation=decision.declaration.enterprise,
        data={
            "container": decision.container.number,
            "from": old,
            "to": outcome,
            "reason": reason.strip(),
        },
    )
    _release_declaration_if_cleared(decision.declaration_id, actor=officer)
    return decision


def _office_of_decision(decision: Decision) -> int | None:
    area = (
        decision.inspection_area
        or InspectionArea.objects.filter(
            terminal_id=decision.declaration.port_call.terminal_id
        ).first()
    )
    return area.customs_office_id if area else None


def _require_officer_of(user: User, customs_office_id: int | None) -> None:
    if customs_office_id is None or customs_office_id not in customs_office_ids_for(user):
        raise NotYours()


def _release_declaration_if_cleared(declaration_id: int, *, actor: User | None) -> None:
    """Release the declaration once no container of it is still held by customs."""
    decisions = Decision.objects.filter(declaration_id=declaration_id)
    still_held = decisions.exclude(outcome=Outcome.RELEASE).exclude(
        inspection__status=Inspection.Status.RELEASED
    )
    if decisions.exists() and not still_held.exists():
        declaration_assessed.declaration_release(declaration_id=declaration_id, actor=actor)


# ---------------------------------------------------------------- the call-number queue


@transaction.atomic
def inspection_report_arrival(*, user: User, container_number: str) -> Inspection:
    """A terminal reports a selected container at the inspection area: it gets a ticket.

    No appointment: the ticket is issued at once with the area's next call number for
    the day, the officers' board and the terminal's hoisting list are told after commit.
    Reporting the same container again returns its ticket.
    """
    terminal_ids = queries.terminal_ids_for(user)
    # Locked so that a re-assessment (assessment.assess_declarations) cannot release the container
    # while its ticket is issued: whichever comes second sees what the first did.
    decision = (
        Decision.objects.select_for_update(of=("self",))
        .select_related("container", "inspection_area", "declaration")
        .filter(
            container__number=container_number.strip().upper(),
            inspection_area__terminal_id__in=terminal_ids,
        )
        .exclude(outcome=Outcome.RELEASE)
        .order_by("-created_at")
        .first()
    )
    if decision is None:
        raise InvalidInput(
            {
                "container": [
                    _("No container with this number is selected for inspection at your terminal.")
                ]
            }
        )
    existing = Inspection.objects.filter(decision=decision).first()
    if existing is not None:
        return existing
    # Lock the area so two arrivals at once cannot take the same call number.
    area = InspectionArea.objects.select_for_update().get(pk=decision.inspection_area_id)
    today = timezone.localdate()
    last = Inspection.objects.filter(area=area, queue_date=today).aggregate(n=Max("queue_number"))[
        "n"
    ]
    inspection = Inspection.objects.create(
        decision=decision, area=area, queue_date=today, queue_number=(last or 0) + 1
    )
    timeline_record(
        subject=inspection,
        kind=TimelineEvent.Kind.INSPECTION_QUEUED,
        actor=user,
        organisation=decision.declaration.enterprise,
        data={
            "container": decision.container.number,
            "ticket": inspection.ticket,
            "area": area.code,
        },
    )
    _publish_inspection(inspection, decision)
    return inspection


@transaction.atomic
def inspection_call_next(*, area_id: int, officer: User) -> Inspection | None:
    """Give the next queued ticket of the area to this officer, or None when none waits.

    Two officers calling at the same instant get two different tickets: each locks the
    first ticket nobody else has locked (SKIP LOCKED). Booked tickets are called at their time
    ahead of the walk-in queue (`inspection/bookings.py`).
    """
    area = InspectionArea.objects.get(pk=area_id)
    _require_officer_of(officer, area.customs_office_id)
    # A ticket booked for a time that has come goes first (earliest time first), then the
    # walk-in queue in order; a ticket booked for later waits for its time.
    due = Q(booking__slot_start__lte=timezone.now())
    inspection = (
        Inspection.objects.filter(area_id=area_id, status=Inspection.Status.QUEUED)
        .filter(Q(booking__isnull=True) | due)
        .annotate(booked_due=Case(When(due, then=Value(0)), default=Value(1)))
        .order_by("booked_due", "booking__slot_start", "queue_date", "queue_number")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if inspection is None:
        return None
    inspection.officer = officer
    inspection.called_at = timezone.now()
    _set_status(
        inspection, Inspection.Status.CALLED, actor=officer, extra_fields=["officer", "called_at"]
    )
    return inspection


@transaction.atomic
def inspection_start(*, inspection_id: int, officer: User) -> Inspection:
    inspection = _locked_for_officer(inspection_id, officer)
    inspection.started_at = inspection.started_at or timezone.now()
    _set_status(
        inspection, Inspection.Status.IN_PROGRESS, actor=officer, extra_fields=["started_at"]
    )
    return inspection


@transaction.atomic
def inspection_record(
    *,
    inspection_id: int,
    officer: User,
    result: str = "",
    findings: str = "",
    image_verdict: str = "",
    scan_image=None,
    photos=(),
) -> Inspection:
    """Record what the examination found, with photos; allowed while it is in progress."""
    inspection = _locked_for_officer(inspection_id, officer)
    if inspection.status != Inspection.Status.IN_PROGRESS:
        raise TransitionNotAllowed(obj=inspection, old=inspection.status, new=inspection.status)
    errors = {}
    if result and result not in Inspection.Result.values:
        errors["result"] = [_("Choose a result from the list.")]
    if image_verdict and image_verdict not in Inspection.ImageVerdict.values:
        errors["image_verdict"] = [_("Choose a verdict from the list.")]
    if image_verdict and not (scan_image or inspection.scan_image):
        errors["image_verdict"] = [_("Attach the scan image you reviewed.")]
    errors.update(_image_errors(scan_image, photos))
    if errors:
        raise InvalidInput(errors)
    fields = {"result": result, "findings": findings.strip(), "image_verdict": image_verdict}
    for name, value in fields.items():
        setattr(inspection, name, value)
    if scan_image:
        inspection.scan_image = scan_image
    inspection.save(update_fields=[*fields, "scan_image", "updated_at"])
    InspectionPhoto.objects.bulk_create(
        InspectionPhoto(inspection=inspection, image=photo, taken_by=officer) for photo in photos
    )
    timeline_record(
        subject=inspection,
        kind=TimelineEvent.Kind.INSPECTION_RECORDED,
        actor=officer,
        organisation=inspection.decision.declaration.enterprise,
        data={"result": result, "image_verdict": image_verdict, "photos": len(photos)},
    )
    return inspection


def _image_errors(scan_image, photos) -> dict:
    """Each file is checked by its content (port.uploads) and named for what it is."""
    if len(photos) > MAX_PHOTOS:
        return {"photos": [_("Attach at most %(count)s photos.") % {"count": MAX_PHOTOS}]}
    errors: dict[str, list[str]] = {}
    files = [("scan_image", "scan", scan_image)] if scan_image else []
    for field, kind, file in [*files, *(("photos", "photo", photo) for photo in photos)]:
        try:
            file.name = uploads.name_for(file, kind)
        except ValidationError as refused:
            errors.setdefault(field, []).extend(refused.messages)
    return errors


@transaction.atomic
def inspection_finish(
    *, inspection_id: int, officer: User, status: str, note: str = ""
) -> Inspection:
    """Release, hold, seize or return the container.

    A release needs a recorded result. When every container of the declaration is
    released, the declaration is released; the enterprise and the terminal hear at once.
    """
    inspection = _locked_for_officer(inspection_id, officer)
    if status not in {
        Inspection.Status.RELEASED,
        Inspection.Status.HELD,
        Inspection.Status.SEIZED,
        Inspection.Status.RETURNED,
    }:
        raise InvalidInput({"status": [_("Release, hold, seize or return.")]})
    if status == Inspection.Status.RELEASED and not inspection.result:
        raise InvalidInput({"result": [_("Record the inspection result before releasing.")]})
    if status in Inspection.FINISHED:
        inspection.finished_at = timezone.now()
    _set_status(inspection, status, actor=officer, extra_fields=["finished_at"], note=note)
    if status == Inspection.Status.RELEASED:
        _release_declaration_if_cleared(inspection.decision.declaration_id, actor=officer)
    return inspection


def _locked_for_officer(inspection_id: int, officer: User) -> Inspection:
    inspection = (
        Inspection.objects.select_for_update()
        .select_related("area", "decision__container", "decision__declaration__enterprise")
        .get(pk=inspection_id)
    )
    _require_officer_of(officer, inspection.area.customs_office_id)
    return inspection


def _set_status(
    inspection: Inspection, new: str, *, actor: User, extra_fields=(), note: str = ""
) -> None:
    old = transition(inspection, new, extra_fields=extra_fields)
    if Inspection.Status.QUEUED in {old, new}:
        attendance.queue_moved_publish(area_id=inspection.area_id)
    timeline_record(
        subject=inspection,
        kind=TimelineEvent.Kind.INSPECTION_STATUS_CHANGED,
        actor=actor,
        organisation=inspection.decision.declaration.enterprise,
        data={
            "container": inspection.decision.container.number,
            "from": old,
            "to": new,
            "note": note,
        },
    )
    _publish_inspection(inspection, inspection.decision)


def _publish_inspection(inspection: Inspection, decision: Decision) -> None:
    area = inspection.area
    groups = [
        events.queue_group(area.customs_office_id),
        # The enterprise and its broker see their own ticket move (the declaration page).
        *declaration_events.declaration_groups(decision.declaration),
    ]
    if area.terminal.operator_id:
        groups.append(live.organisation_group(area.terminal.operator_id))
    live.publish_on_commit(groups=groups, event=events.inspection_changed(inspection, decision))


# ---------------------------------------------------------------- expert opinion


@transaction.atomic
def consultation_ask(*, inspection_id: int, officer: User, question: str) -> ExpertConsultation:
    inspection = _locked_for_officer(inspection_id, officer)
    if not question.strip():
        raise InvalidInput({"question": [_("Ask the expert a question.")]})
    consultation = ExpertConsultation.objects.create(
        inspection=inspection, asked_by=officer, question=question.strip()
    )
    timeline_record(
        subject=inspection,
        kind=TimelineEvent.Kind.EXPERT_CONSULTED,
        actor=officer,
        organisation=inspection.decision.declaration.enterprise,
        data={"question": consultation.question},
    )
    return consultation


@transaction.atomic
def consultation_answer(*, consultation_id: int, expert: User, answer: str) -> ExpertConsultation:
    """A supervisor of the same customs office gives the opinion; once."""
    consultation = (
        ExpertConsultation.objects.select_for_update()
        .select_related("inspection__area")
        .get(pk=consultation_id)
    )
    office_id = consultation.inspection.area.customs_office_id
    if office_id not in customs_office_ids_for(expert):
        raise NotYours()
    if not expert.memberships.filter(organisation_id=office_id, role="supervisor").exists():
        raise PermissionDenied(_("Only a supervisor answers as the expert."))
    if consultation.answered_at is not None:
        raise TransitionNotAllowed(obj=consultation, old="answered", new="answered")
    if not answer.strip():
        raise InvalidInput({"answer": [_("Write the opinion.")]})
    consultation.expert = expert
    consultation.answer = answer.strip()
    consultation.answered_at = timezone.now()
    consultation.save(update_fields=["expert", "answer", "answered_at", "updated_at"])
    return consultation


@transaction.atomic
def risk_rule_save(*, officer: User, rule: RiskRule, watched_enterprises) -> RiskRule:
    """Create or change a rule. It takes effect when the rule set is next activated."""
    if not customs_office_ids_for(officer):
        raise PermissionDenied(_("Only customs officers manage risk rules."))
    rule.save()
    rule.watched_enterprises.set(watched_enterprises)
    return rule
