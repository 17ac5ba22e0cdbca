"""The vessel-wide assessment: one pass over a call's open declarations, the same decisions
as one declaration at a time, a fixed number of queries, and nothing decided twice."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from declarations import services as declaration_services
from declarations.models import Declaration
from inspection import assessment, services, tasks
from inspection.models import Decision, Inspection, Outcome, RiskRule
from port.models import Membership, Organisation, Port, PortCall, TimelineEvent, User
from tests.conftest import MEAT_ITEM, container_number, queued

REASSESS = "/api/v1/inspection/reassessments/"
TILES = declaration_services.ItemInput(
    hs_code="6907210000",
    description="Glazed ceramic floor tiles",
    quantity="18000",
    unit="m2",
    value="412000.00",
    origin_country="CN",
)
MEAT = declaration_services.ItemInput(**MEAT_ITEM)
_serial = iter(range(100, 999_999))


class Rollback(Exception):
    """Raised to undo what a block wrote (its savepoint is rolled back)."""


def file(demo, *, items, call=None, containers=2) -> Declaration:
    return declaration_services.declaration_file(
        user=demo.importer,
        enterprise_id=None,
        port_call_id=(call or demo.port_call).pk,
        bl_number=f"COSU64{next(_serial):08d}",
        container_numbers=[container_number(next(_serial)) for _ in range(containers)],
        items=[items],
    )


def file_mix(demo, count: int, *, call=None) -> list[Declaration]:
    """Every other declaration is meat (selected), the others tiles (released)."""
    return [file(demo, items=MEAT if n % 2 else TILES, call=call) for n in range(count)]


def sampled_tiles_rule(rate="0.5") -> RiskRule:
    """A rule that scans about half of the tiles: the draw depends on the seed."""
    return RiskRule.objects.create(
        name="Tiles: sampled scan",
        public_reason="Tiles are scanned now and then.",
        hs_prefix="6907",
        action=Outcome.SCAN,
        sampling_rate=rate,
        priority=30,
    )


def outcomes() -> dict[str, tuple]:
    return {
        d.container.number: (d.outcome, d.rules_hit, d.declaration.status)
        for d in Decision.objects.select_related("container", "declaration")
    }


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]


def assessed_one_by_one(declarations) -> dict[str, tuple]:
    """What assessing each declaration alone decides; then undone."""
    seen = {}

    def assess_then_undo():
        with transaction.atomic():
            for declaration in declarations:
                assessment.assess_declarations(declaration_ids=[declaration.pk])
            seen.update(outcomes())
            raise Rollback

    with pytest.raises(Rollback):
        assess_then_undo()
    return seen


def test_the_vessel_batch_decides_as_each_declaration_alone(demo):
    sampled_tiles_rule()
    services.rule_set_activate(officer=demo.officer)
    declarations = file_mix(demo, 8)
    alone = assessed_one_by_one(declarations)
    assert Decision.objects.exists() is False

    counts = assessment.assess_port_call(port_call_id=demo.port_call.pk)

    assert outcomes() == alone
    assert counts == {"declarations": 8, "containers": 16, "new": 16, "changed": 0}
    assert {outcome for outcome, _hits, _status in alone.values()} >= {"quarantine"}
    assert TimelineEvent.objects.filter(kind="inspection.container_decided").count() == 16
    moved = TimelineEvent.objects.filter(kind="declaration.status_changed", data__from="submitted")
    assert moved.count() == 8
    assert set(moved.values_list("organisation", flat=True)) == {demo.importer_org.pk}


# Read the open ids; turn JIT off; lock the decisions, then the declarations (with items
# and containers: three); read the versions, the decisions, the areas, the dangerous goods;
# the rules of a version compiled for the first time in this process; insert the decisions
# and COPY their events; the call (diversion, not berthed); the declarations' statuses, one
# UPDATE per new status (released, inspection required) and one COPY of their events; two
# savepoints with their releases (the nested atomic blocks).
QUERIES_FOR_A_VESSEL = 22


@pytest.mark.parametrize("count", [2, 20])
def test_the_vessel_batch_reads_and_writes_in_a_fixed_number_of_queries(
    demo, count, django_assert_num_queries
):
    file_mix(demo, count)

    with django_assert_num_queries(QUERIES_FOR_A_VESSEL):
        assessment.assess_port_call(port_call_id=demo.port_call.pk)

    assert Declaration.objects.filter(status="submitted").exists() is False
    assert Decision.objects.count() == 2 * count


def test_a_second_run_changes_nothing(demo, django_capture_on_commit_callbacks):
    file_mix(demo, 4)
    RiskRule.objects.filter(hs_prefix="0202").update(sampling_rate="0.5")
    assessment.assess_port_call(port_call_id=demo.port_call.pk)
    services.rule_set_activate(officer=demo.officer)
    assessment.assess_port_call(port_call_id=demo.port_call.pk)
    before = (outcomes(), TimelineEvent.objects.count())

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        tasks.decisions_make_for_port_call_task(demo.port_call.pk)

    assert (outcomes(), TimelineEvent.objects.count()) == before
    assert writes(queries) == []
    assert callbacks == []


def test_a_new_version_releases_what_a_dropped_rule_selected(demo):
    meat = file(demo, items=MEAT)
    assessment.assess_port_call(port_call_id=demo.port_call.pk)
    RiskRule.objects.filter(hs_prefix="0202").update(is_active=False)
    version = services.rule_set_activate(officer=demo.officer)

    assessment.assess_port_call(port_call_id=demo.port_call.pk, actor_id=demo.officer.pk)

    meat.refresh_from_db()
    assert meat.status == Declaration.Status.RELEASED
    decisions = Decision.objects.filter(declaration=meat)
    assert {(d.outcome, d.rule_set_version_id, d.inspection_area_id) for d in decisions} == {
        ("release", version.pk, None)
    }
    events = TimelineEvent.objects.filter(kind="inspection.decision_reassessed")
    assert (
        sorted((e.data["from"], e.data["to"], e.actor_id) for e in events)
        == [("quarantine", "release", demo.officer.pk)] * 2
    )
    assert events[0].data["rule_set_version"] == version.number
    change = TimelineEvent.objects.filter(kind="declaration.status_changed").last()
    assert (change.data["from"], change.data["to"]) == ("inspection_required", "released")


def test_overridden_ticketed_and_released_decisions_stay_as_they_are(demo):
    overridden, ticketed = file(demo, items=MEAT), file(demo, items=MEAT)
    tiles = file(demo, items=TILES)
    assessment.assess_port_call(port_call_id=demo.port_call.pk)
    first = Decision.objects.filter(declaration=overridden).order_by("pk").first()
    services.decision_override(
        decision_id=first.pk, officer=demo.officer, outcome="manual", reason="Seal broken"
    )
    at_area = Decision.objects.filter(declaration=ticketed).order_by("pk").first()
    services.inspection_report_arrival(
        user=demo.terminal, container_number=at_area.container.number
    )
    services.inspection_start(
        inspection_id=services.inspection_call_next(
            area_id=at_area.inspection_area_id, officer=demo.officer
        ).pk,
        officer=demo.officer,
    )
    RiskRule.objects.filter(hs_prefix="0202").update(is_active=False)
    RiskRule.objects.create(
        name="Tiles: scan", public_reason="x", hs_prefix="6907", action=Outcome.SCAN
    )
    services.rule_set_activate(officer=demo.officer)

    assessment.assess_port_call(port_call_id=demo.port_call.pk)

    first.refresh_from_db()
    at_area.refresh_from_db()
    assert (first.outcome, first.overridden_outcome) == ("manual", "quarantine")
    assert at_area.outcome == "quarantine"
    assert Inspection.objects.get().status == Inspection.Status.IN_PROGRESS
    assert set(Decision.objects.filter(declaration=tiles).values_list("outcome", flat=True)) == {
        "release"
    }
    statuses = dict(
        Declaration.objects.filter(pk__in=[overridden.pk, ticketed.pk, tiles.pk]).values_list(
            "pk", "status"
        )
    )
    assert statuses == {
        overridden.pk: "inspection_required",  # the overridden container is still held
        ticketed.pk: "inspection_required",  # the container at the area is still held
        tiles.pk: "released",
    }
    reassessed = TimelineEvent.objects.filter(kind="inspection.decision_reassessed")
    assert reassessed.count() == 2  # the other container of each meat declaration


def test_a_sampled_rule_draws_the_same_containers_under_a_new_version(demo):
    sampled_tiles_rule()
    services.rule_set_activate(officer=demo.officer)
    file_mix(demo, 10)
    assessment.assess_port_call(port_call_id=demo.port_call.pk)
    before = outcomes()
    assert {outcome for outcome, _hits, _status in before.values()} >= {"scan", "release"}
    RiskRule.objects.create(
        name="Nothing matches", public_reason="x", hs_prefix="0101", action=Outcome.SCAN
    )
    services.rule_set_activate(officer=demo.officer)  # a new seed

    assessment.assess_port_call(port_call_id=demo.port_call.pk)

    assert outcomes() == before
    assert TimelineEvent.objects.filter(kind="inspection.decision_reassessed").exists() is False


def test_the_per_declaration_task_after_the_vessel_task_is_a_no_op(demo):
    declaration = file(demo, items=MEAT)
    assessment.assess_port_call(port_call_id=demo.port_call.pk)

    with CaptureQueriesContext(connection) as queries:
        assessment.assess_declarations(declaration_ids=[declaration.pk])

    assert writes(queries) == []
    assert Decision.objects.filter(declaration=declaration).count() == 2


# ---------------------------------------------------------------- activation queues the calls


def test_activation_queues_one_task_per_call_with_open_work(
    demo, django_capture_on_commit_callbacks
):
    other_call = PortCall.objects.exclude(pk=demo.port_call.pk).get()
    file_mix(demo, 3)  # undecided
    released = file(demo, items=TILES, call=other_call)
    assessment.assess_declarations(declaration_ids=[released.pk])
    RiskRule.objects.filter(hs_prefix="8479").update(is_active=False)

    services.rule_set_activate(officer=demo.officer)

    assert queued(tasks.decisions_make_for_port_call_task.name) == [
        (tasks.decisions_make_for_port_call_task.name, {"port_call_id": demo.port_call.pk})
    ]


def test_activation_queues_a_call_whose_selections_are_still_open(
    demo, django_capture_on_commit_callbacks
):
    other_call = PortCall.objects.exclude(pk=demo.port_call.pk).get()
    assessment.assess_port_call(port_call_id=file(demo, items=MEAT).port_call_id)
    file(demo, items=TILES, call=other_call)
    RiskRule.objects.filter(hs_prefix="8479").update(is_active=False)

    services.rule_set_activate(officer=demo.officer)

    rows = queued(tasks.decisions_make_for_port_call_task.name)
    assert sorted(kw["port_call_id"] for _, kw in rows) == sorted(
        [demo.port_call.pk, other_call.pk]
    )


def test_an_unchanged_rule_set_queues_nothing(demo, django_capture_on_commit_callbacks):
    file_mix(demo, 2)

    with django_capture_on_commit_callbacks() as callbacks:
        services.rule_set_activate(officer=demo.officer)

    assert callbacks == []


# ---------------------------------------------------------------- the officer's action


def test_an_officer_queues_the_reassessment_of_a_call(
    demo, api_for, django_capture_on_commit_callbacks
):
    file_mix(demo, 3)

    with django_capture_on_commit_callbacks():
        response = api_for(demo.officer).post(
            REASSESS, {"port_call": demo.port_call.pk}, format="json"
        )

    assert response.status_code == 202
    assert response.json() == {
        "port_call": demo.port_call.pk,
        "declarations": 3,
        "rule_set_version": 1,
    }
    event = TimelineEvent.objects.get(kind="inspection.port_call_reassessment_requested")
    assert (event.subject_type, event.subject_id) == ("port.portcall", demo.port_call.pk)
    assert (event.actor, event.organisation, event.data["declarations"]) == (
        demo.officer,
        demo.customs,
        3,
    )
    assert queued(tasks.decisions_make_for_port_call_task.name) == [
        (
            tasks.decisions_make_for_port_call_task.name,
            {"port_call_id": demo.port_call.pk, "actor_id": demo.officer.pk},
        )
    ]
    assert Decision.objects.exists() is False  # the task decides, not the request


@pytest.mark.parametrize("login", ["importer", "exporter", "broker", "terminal"])
def test_only_customs_officers_may_reassess_a_call(demo, api_for, login):
    file_mix(demo, 2)
    user = User.objects.get(username=login)

    response = api_for(user).post(REASSESS, {"port_call": demo.port_call.pk}, format="json")

    assert response.status_code == 403
    assert TimelineEvent.objects.filter(kind__startswith="inspection.").exists() is False


def test_an_officer_of_another_port_gets_a_404(demo, api_for):
    file_mix(demo, 2)
    fuzhou = Port.objects.create(unlocode="CNFOC", name="Fuzhou")
    office = Organisation.objects.create(
        name="Fuzhou Customs", kind=Organisation.Kind.CUSTOMS_OFFICE, port=fuzhou
    )
    stranger = User.objects.create_user("fuzhou-officer", password="x")
    Membership.objects.create(user=stranger, organisation=office, role=Membership.Role.OFFICER)

    response = api_for(stranger).post(REASSESS, {"port_call": demo.port_call.pk}, format="json")

    assert response.status_code == 404
    assert TimelineEvent.objects.filter(kind__startswith="inspection.").exists() is False


def test_reassessment_errors_name_the_field(demo, api_for):
    officer = api_for(demo.officer)

    missing = officer.post(REASSESS, {}, format="json")
    nothing_open = officer.post(REASSESS, {"port_call": demo.port_call.pk}, format="json")

    assert missing.status_code == 400
    assert list(missing.json()) == ["port_call"]
    assert nothing_open.status_code == 400
    assert nothing_open.json() == {
        "port_call": ["No declaration of this vessel call is open to re-assessment."]
    }
    assert TimelineEvent.objects.filter(kind__startswith="inspection.").exists() is False


def test_the_rules_page_reassesses_a_call(demo, client, django_capture_on_commit_callbacks):
    file_mix(demo, 2)
    client.force_login(demo.officer)
    page = client.get("/inspection/rules/")
    assert "Re-assess this vessel call" in page.content.decode()

    with django_capture_on_commit_callbacks():
        response = client.post(
            "/inspection/rules/", {"do": "reassess", "port_call": demo.port_call.pk}
        )

    assert response.status_code == 302
    assert len(queued(tasks.decisions_make_for_port_call_task.name)) == 1
    assert (
        TimelineEvent.objects.filter(kind="inspection.port_call_reassessment_requested").count()
        == 1
    )


def test_the_rules_page_refuses_a_call_without_open_declarations(demo, client):
    client.force_login(demo.officer)

    response = client.post("/inspection/rules/", {"do": "reassess", "port_call": demo.port_call.pk})

    assert response.status_code == 200
    assert response.context["reassess_form"].errors["port_call"]
    assert TimelineEvent.objects.filter(kind__startswith="inspection.").exists() is False


# ---------------------------------------------------------------- through a real worker


@pytest.mark.slow
def test_activation_reassesses_each_call_through_a_real_worker(
    transactional_db, demo, celery_worker_process
):
    filed = [file(demo, items=MEAT) for _ in range(3)]  # their own tasks decide them first
    wait_until(lambda: not Declaration.objects.filter(status="submitted").exists())
    RiskRule.objects.filter(hs_prefix="0202").update(is_active=False)

    version = services.rule_set_activate(officer=demo.officer)  # commits: queues the call

    wait_until(
        lambda: (
            Declaration.objects.filter(pk__in=[d.pk for d in filed], status="released").count() == 3
        )
    )
    assert set(Decision.objects.values_list("outcome", "rule_set_version")) == {
        ("release", version.pk)
    }
    assert TimelineEvent.objects.filter(kind="inspection.decision_reassessed").count() == 6


def wait_until(condition, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("The worker did not finish in time")
        time.sleep(0.2)
