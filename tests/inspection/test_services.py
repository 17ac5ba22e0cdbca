import threading

import pytest
from django.db import connection

from declarations.models import Declaration
from inspection import assessment, queries, services
from inspection import gate as port_gate
from inspection.models import (
    Alert,
    Decision,
    GateEvent,
    Inspection,
    Outcome,
    RiskRule,
    RuleSetVersion,
)
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import InspectionArea, Membership, Organisation, Terminal, TimelineEvent, User
from tests.conftest import MEAT_ITEM, filing


@pytest.fixture
def selected(demo, api_for):
    """A meat declaration assessed: both containers selected for quarantine inspection."""
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])
    return Declaration.objects.get(pk=created["id"])


def arrive(demo, number="COSU6123451") -> Inspection:
    return services.inspection_report_arrival(user=demo.terminal, container_number=number)


def test_activation_snapshots_the_active_rules_once(demo):
    current = RuleSetVersion.objects.get()
    assert services.rule_set_activate(officer=demo.officer) == current  # unchanged rules

    RiskRule.objects.filter(hs_prefix="8479").update(is_active=False)
    version = services.rule_set_activate(officer=demo.officer)

    assert version.number == current.number + 1
    assert [rule["hs_prefix"] for rule in version.rules] == ["0202"]
    assert version.seed != current.seed
    assert version.activated_by == demo.officer


def test_decisions_record_their_rule_set_version(selected):
    version = RuleSetVersion.objects.get()

    assert set(Decision.objects.values_list("rule_set_version", flat=True)) == {version.pk}
    event = TimelineEvent.objects.filter(kind="inspection.container_decided").first()
    assert event.data["rule_set_version"] == version.number


def test_dry_run_counts_what_a_draft_rule_would_have_selected(selected):
    draft = RiskRule(
        name="Australian goods", public_reason="x", origin_countries=["AU"], action=Outcome.SCAN
    )

    report = services.rule_dry_run(rule=draft, watched_enterprise_ids=[], days=30)

    assert (
        report["declarations_hit"],
        report["containers_selected"],
        report["containers_seen"],
    ) == (1, 2, 2)
    assert {row["container"] for row in report["selected"]} == {"COSU6123451", "CSNU8011228"}
    assert RiskRule.objects.filter(name="Australian goods").exists() is False


def test_override_keeps_the_rules_outcome_and_releases_a_cleared_declaration(demo, selected):
    first, second = Decision.objects.order_by("pk")

    services.decision_override(
        decision_id=first.pk, officer=demo.officer, outcome="release", reason="Vet certificate seen"
    )
    selected.refresh_from_db()
    assert selected.status == Declaration.Status.INSPECTION_REQUIRED  # one container still held
    services.decision_override(
        decision_id=second.pk,
        officer=demo.officer,
        outcome="release",
        reason="Vet certificate seen",
    )

    first.refresh_from_db()
    selected.refresh_from_db()
    assert (first.outcome, first.overridden_outcome, first.overridden_by) == (
        "release",
        "quarantine",
        demo.officer,
    )
    assert selected.status == Declaration.Status.RELEASED
    assert TimelineEvent.objects.filter(kind="inspection.decision_overridden").count() == 2


def test_override_needs_a_reason_and_an_officer_of_the_office(demo, selected):
    decision = Decision.objects.first()

    with pytest.raises(InvalidInput) as refused:
        services.decision_override(
            decision_id=decision.pk, officer=demo.officer, outcome="release", reason=" "
        )
    assert refused.value.errors == {"reason": ["Say why the rules' decision is overridden."]}
    with pytest.raises(NotYours):
        services.decision_override(
            decision_id=decision.pk, officer=demo.importer, outcome="release", reason="x"
        )

    decision.refresh_from_db()
    assert decision.outcome == "quarantine"
    assert TimelineEvent.objects.filter(kind="inspection.decision_overridden").exists() is False


def test_arrival_issues_the_next_call_number_once(demo, selected):
    first = arrive(demo, "COSU6123451")
    second = arrive(demo, "CSNU8011228")
    again = arrive(demo, "COSU6123451")

    assert (first.queue_number, second.queue_number) == (1, 2)
    assert again.pk == first.pk
    assert first.status == Inspection.Status.QUEUED
    assert TimelineEvent.objects.filter(kind="inspection.queued").count() == 2


def test_arrival_of_a_container_not_selected_is_refused(demo, selected):
    with pytest.raises(InvalidInput) as refused:
        arrive(demo, "OOLU6123458")

    assert list(refused.value.errors) == ["container"]
    assert Inspection.objects.exists() is False


def test_inspection_runs_from_call_to_release_and_releases_the_declaration(
    demo, selected, django_capture_on_commit_callbacks
):
    tickets = [arrive(demo, n) for n in ("COSU6123451", "CSNU8011228")]
    area = tickets[0].area
    for _ in tickets:
        called = services.inspection_call_next(area_id=area.pk, officer=demo.officer)
        services.inspection_start(inspection_id=called.pk, officer=demo.officer)
        services.inspection_record(
            inspection_id=called.pk,
            officer=demo.officer,
            result="conforming",
            findings="Matches the declaration",
        )
        with django_capture_on_commit_callbacks() as callbacks:
            services.inspection_finish(
                inspection_id=called.pk, officer=demo.officer, status="released"
            )

    selected.refresh_from_db()
    assert selected.status == Declaration.Status.RELEASED
    assert list(Inspection.objects.values_list("status", flat=True)) == ["released", "released"]
    assert services.inspection_call_next(area_id=area.pk, officer=demo.officer) is None
    # one after-commit push: frames to the board, the terminal and the declaration's watchers
    assert len(callbacks) == 1
    released = Inspection.objects.first()
    assert released.waiting_seconds is not None
    assert released.inspecting_seconds is not None


def test_release_needs_a_recorded_result_and_changes_nothing_without_one(demo, selected):
    ticket = arrive(demo)
    services.inspection_call_next(area_id=ticket.area_id, officer=demo.officer)
    services.inspection_start(inspection_id=ticket.pk, officer=demo.officer)

    with pytest.raises(InvalidInput):
        services.inspection_finish(inspection_id=ticket.pk, officer=demo.officer, status="released")
    with pytest.raises(TransitionNotAllowed):
        services.inspection_start(inspection_id=ticket.pk, officer=demo.officer)

    ticket.refresh_from_db()
    assert ticket.status == Inspection.Status.IN_PROGRESS


def test_an_image_verdict_needs_the_scan_image(demo, selected):
    ticket = arrive(demo)
    services.inspection_call_next(area_id=ticket.area_id, officer=demo.officer)
    services.inspection_start(inspection_id=ticket.pk, officer=demo.officer)

    with pytest.raises(InvalidInput) as refused:
        services.inspection_record(
            inspection_id=ticket.pk, officer=demo.officer, image_verdict="clear"
        )

    assert refused.value.errors == {"image_verdict": ["Attach the scan image you reviewed."]}


def test_the_expert_answers_once_and_only_a_supervisor(demo, selected):
    ticket = arrive(demo)
    expert = User.objects.get(username="expert")
    consultation = services.consultation_ask(
        inspection_id=ticket.pk, officer=demo.officer, question="Is this cut grade A?"
    )

    with pytest.raises(Exception, match="supervisor"):
        services.consultation_answer(
            consultation_id=consultation.pk, expert=demo.officer, answer="yes"
        )
    services.consultation_answer(
        consultation_id=consultation.pk, expert=expert, answer="Grade A, matches"
    )
    with pytest.raises(TransitionNotAllowed):
        services.consultation_answer(
            consultation_id=consultation.pk, expert=expert, answer="changed my mind"
        )

    consultation.refresh_from_db()
    assert (consultation.answer, consultation.expert) == ("Grade A, matches", expert)


def test_gate_out_of_an_unreleased_container_is_refused_with_an_alert(
    demo, selected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        event = port_gate.gate_report(
            user=demo.terminal,
            container_number="COSU6123451",
            direction="out",
            truck_plate="闽D12345",
        )

    assert event.allowed is False
    assert event.reason == "Customs has not released this container."
    alert = Alert.objects.get()
    assert alert.customs_office == demo.customs
    assert "Gate-out refused" in alert.message
    assert TimelineEvent.objects.filter(kind="gate.refused").count() == 1
    # one after-commit push: the alert to the queue board, the alarm to the alarm board
    assert len(callbacks) == 1


def test_gate_out_of_a_released_container_passes(demo, api_for):
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])

    event = port_gate.gate_report(
        user=demo.terminal, container_number="COSU6123451", direction="out", idempotency_key="g-1"
    )
    again = port_gate.gate_report(
        user=demo.terminal, container_number="COSU6123451", direction="out", idempotency_key="g-1"
    )

    assert event.allowed is True
    assert again.pk == event.pk
    assert Alert.objects.exists() is False


def test_a_container_leaves_once_until_it_comes_in_again(demo, api_for):
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk), format="json")
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])

    def gate(direction):
        return port_gate.gate_report(
            user=demo.terminal, container_number="COSU6123451", direction=direction
        )

    first, second = gate("out"), gate("out")
    back_in, out_again = gate("in"), gate("out")

    assert (first.allowed, second.allowed, back_in.allowed, out_again.allowed) == (
        True,
        False,
        True,
        True,
    )
    assert second.reason.startswith("This container already left through the gate on ")
    assert Alert.objects.count() == 1  # the second exit of one box is for customs to see


def test_only_a_terminal_reports_gate_events(demo, selected):
    with pytest.raises(Exception, match="terminal operator"):
        port_gate.gate_report(user=demo.importer, container_number="COSU6123451", direction="out")
    assert GateEvent.objects.exists() is False


def test_an_officer_never_sees_another_customs_office_queue(demo, selected):
    other_office = Organisation.objects.create(
        name="Xiamen Customs, Dongdu Office", kind="customs_office", office_code="3702"
    )
    InspectionArea.objects.create(
        terminal=Terminal.objects.get(code="SYCT"),
        customs_office=other_office,
        code="IA2",
        name="Songyu Inspection Area",
    )
    other_officer = User.objects.create(username="officer2")
    Membership.objects.create(
        user=other_officer, organisation=other_office, role=Membership.Role.OFFICER
    )
    ticket = arrive(demo)

    assert queries.inspection_queue(user=demo.officer).count() == 2
    assert queries.inspection_queue(user=other_officer).count() == 0
    assert queries.inspection_queue_live_group(other_officer, str(demo.customs.pk)) is None
    with pytest.raises(NotYours):
        services.inspection_call_next(area_id=ticket.area_id, officer=other_officer)
    ticket.refresh_from_db()
    assert ticket.status == Inspection.Status.QUEUED


@pytest.mark.slow
def test_concurrent_call_next_gives_each_ticket_to_exactly_one_officer(
    transactional_db, demo, api_for
):
    for n, number in enumerate(["COSU6123451", "CSNU8011228", "OOLU6123458", "TGHU6123458"]):
        body = filing(
            demo.port_call.pk, bl_number=f"BLCALL{n}", containers=[number], items=[MEAT_ITEM]
        )
        created = api_for(demo.importer).post("/api/v1/declarations/", body, format="json").json()
        assessment.assess_declarations(declaration_ids=[created["id"]])
        arrive(demo, number)
    officers = [demo.officer] + [User.objects.create(username=f"officer{n}") for n in range(5)]
    for officer in officers[1:]:
        Membership.objects.create(
            user=officer, organisation=demo.customs, role=Membership.Role.OFFICER
        )
    area_id = Inspection.objects.first().area_id
    barrier = threading.Barrier(len(officers))
    called = []

    def call(officer):
        barrier.wait()
        try:
            ticket = services.inspection_call_next(area_id=area_id, officer=officer)
            called.append(ticket.pk if ticket else None)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(o,)) for o in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    tickets = [pk for pk in called if pk is not None]
    assert len(called) == 6
    assert sorted(tickets) == sorted(
        Inspection.objects.values_list("pk", flat=True)
    )  # 4 distinct tickets
    assert called.count(None) == 2
    assert Inspection.objects.filter(status="called").count() == 4


def test_a_dangerous_goods_rule_selects_the_containers_the_manifest_lists_as_dangerous(
    demo, api_for
):
    from shipping.cargo import ManifestLineInput, manifest_add_lines

    RiskRule.objects.create(
        name="DG check",
        public_reason="Dangerous goods are checked.",
        action=Outcome.MANUAL,
        dangerous_goods=True,
    )
    services.rule_set_activate(officer=demo.officer)
    lines = [
        ManifestLineInput(
            bl_number="COSU6401234560",
            container_number="COSU6123451",
            un_number="1173",
            imdg_class="3",
        ),
        ManifestLineInput(bl_number="COSU6401234560", container_number="CSNU8011228"),
    ]
    manifest_add_lines(
        user=User.objects.get(username="agent"),
        port_call_id=demo.port_call.pk,
        lines=lines,
        source="api",
    )
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk), format="json")
        .json()
    )

    assessment.assess_declarations(declaration_ids=[created["id"]])

    outcomes = dict(Decision.objects.values_list("container__number", "outcome"))
    assert outcomes == {"COSU6123451": "manual", "CSNU8011228": "release"}
