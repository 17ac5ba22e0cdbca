"""Every write to inspection data: decisions now; queues and results grow here."""

from django.db import transaction

from declarations import queries as declaration_queries
from inspection import events
from inspection.models import Decision, Outcome, RiskRule
from port import live
from port.models import InspectionArea, TimelineEvent
from port.timeline import timeline_record_many

# When several rules hit, the first of these wins: the more thorough inspection.
OUTCOME_STRENGTH = [Outcome.QUARANTINE, Outcome.MANUAL, Outcome.SCAN, Outcome.RELEASE]


def rules_evaluate(*, hs_codes: list[str], rules: list[RiskRule]) -> tuple[str, list[dict]]:
    """The outcome for goods with these commodity codes, and every rule that hit."""
    hits = [rule for rule in rules if any(code.startswith(rule.hs_prefix) for code in hs_codes)]
    outcome = min(
        (rule.action for rule in hits), key=OUTCOME_STRENGTH.index, default=Outcome.RELEASE
    )
    reasons = [
        {"rule": r.pk, "name": r.name, "reason": r.public_reason, "action": r.action} for r in hits
    ]
    return outcome, reasons


@transaction.atomic
def decisions_make(*, declaration_id: int) -> list[Decision]:
    """Decide every container of a declaration against the active rules.

    Writes one Decision per container and a timeline event for each, in bulk; after
    commit, tells the customs office's inspection queue about the selected containers in
    one event. The caller holds
    the declaration's lock; decisions already made are returned as they are.
    """
    existing = list(_decisions_of(declaration_id))
    if existing:
        return existing
    declaration = declaration_queries.declaration_for_assessment(declaration_id=declaration_id)
    rules = list(RiskRule.objects.filter(is_active=True).order_by("priority", "pk"))
    outcome, reasons = rules_evaluate(
        hs_codes=[item.hs_code for item in declaration.items.all()], rules=rules
    )
    area = (
        InspectionArea.objects.filter(terminal_id=declaration.port_call.terminal_id)
        .order_by("pk")
        .first()
    )
    Decision.objects.bulk_create(
        Decision(
            declaration=declaration,
            container=container,
            outcome=outcome,
            rules_hit=reasons,
            inspection_area=area if outcome != Outcome.RELEASE else None,
        )
        for container in declaration.containers.all()
    )
    decisions = list(_decisions_of(declaration_id))
    timeline_record_many(
        subjects=decisions,
        kind=TimelineEvent.Kind.CONTAINER_DECIDED,
        organisation_id=declaration.enterprise_id,
        data_for=lambda d: {"container": d.container.number, "outcome": d.outcome},
    )
    selected = [d for d in decisions if d.requires_inspection]
    if selected and area is not None:
        live.publish_on_commit(
            groups=[events.queue_group(area.customs_office_id)],
            event=events.containers_selected(declaration_id, selected),
        )
    return decisions


def _decisions_of(declaration_id: int):
    return Decision.objects.filter(declaration_id=declaration_id).select_related(
        "container", "inspection_area"
    )
