from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from declarations import services
from declarations.models import Declaration, DeclarationItem
from inspection import assessment
from inspection.models import Decision
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Container, TimelineEvent
from tests.conftest import MEAT_ITEM, filing, queued


def file(demo, user=None, **overrides):
    body = filing(demo.port_call.pk, **overrides)
    return services.declaration_file(
        user=user or demo.importer,
        enterprise_id=body.get("enterprise"),
        port_call_id=body["port_call"],
        bl_number=body["bl_number"],
        container_numbers=body["containers"],
        items=[services.ItemInput(**item) for item in body["items"]],
        idempotency_key=body.get("idempotency_key", ""),
    )


def test_filing_submits_with_number_timeline_and_after_commit_work(
    demo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        declaration = file(demo)

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.SUBMITTED
    assert declaration.enterprise == demo.importer_org
    assert declaration.declarant == demo.importer_org
    assert declaration.number.startswith("3701")
    assert declaration.number[8] == "1"
    assert len(declaration.number) == 18
    assert list(declaration.containers.values_list("number", flat=True).order_by("number")) == [
        "COSU6123451",
        "CSNU8011228",
    ]
    assert DeclarationItem.objects.get(declaration=declaration).hs_code == "6907210000"
    kinds = list(TimelineEvent.objects.order_by("id").values_list("kind", "data"))
    assert kinds[0][0] == "declaration.filed"
    assert kinds[1] == ("declaration.status_changed", {"from": "draft", "to": "submitted"})
    assert len(callbacks) == 1  # the live push, nothing before commit
    # the assessment: a row written in the filing's own transaction
    assert queued() == [(services.ASSESS_TASK, {"declaration_ids": [declaration.pk]})]


def test_broker_files_for_an_enterprise_that_authorised_it(demo):
    declaration = file(demo, user=demo.broker, enterprise=demo.exporter_org.pk)

    assert declaration.enterprise == demo.exporter_org
    assert declaration.declarant == demo.broker_org


def test_enterprise_cannot_file_for_another_enterprise(demo):
    with pytest.raises(InvalidInput) as refused:
        file(demo, user=demo.exporter, enterprise=demo.importer_org.pk)

    assert refused.value.errors == {"enterprise": ["You may not file for this enterprise."]}
    assert Declaration.objects.exists() is False


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"containers": ["COSU6123452"]},
            "containers",
            "COSU6123452: the check digit is wrong (ISO 6346).",
        ),
        ({"containers": []}, "containers", "List at least one container."),
        ({"bl_number": ""}, "bl_number", "The B/L number is required."),
        ({"port_call": 987654}, "port_call", "There is no open port call with this id."),
        ({"items": []}, "items", "Declare at least one goods item."),
    ],
)
def test_bad_header_input_names_the_field_and_writes_nothing(demo, overrides, field, message):
    with pytest.raises(InvalidInput) as refused:
        file(demo, **overrides)

    assert refused.value.errors[field] == [message]
    assert Declaration.objects.exists() is False
    assert Container.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"hs_code": "02023"}, "hs_code", "A commodity code has exactly 10 digits."),
        ({"hs_code": "0199000000"}, "hs_code", "019900 is not an HS 2022 subheading."),
        ({"quantity": "0"}, "quantity", "The quantity must be a number above zero."),
        ({"value": "abc"}, "value", "The value must be a number, zero or more."),
        ({"origin_country": "XX"}, "origin_country", "XX is not an ISO 3166 country code."),
        ({"description": " "}, "description", "Describe the goods."),
    ],
)
def test_bad_item_input_names_the_line_and_field(demo, item, field, message):
    items = [MEAT_ITEM, {**MEAT_ITEM, **item}]

    with pytest.raises(InvalidInput) as refused:
        file(demo, items=items)

    assert refused.value.errors == {"items": {"1": {field: [message]}}}
    assert Declaration.objects.exists() is False


def test_every_error_is_reported_at_once(demo):
    with pytest.raises(InvalidInput) as refused:
        file(demo, bl_number="", containers=["X"], items=[{**MEAT_ITEM, "hs_code": "1"}])

    assert set(refused.value.errors) == {"bl_number", "containers", "items"}


def test_same_idempotency_key_returns_the_first_declaration(demo):
    first = file(demo, idempotency_key="erp-42")
    again = file(demo, idempotency_key="erp-42", bl_number="OTHER123")

    assert again.pk == first.pk
    assert Declaration.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="declaration.filed").count() == 1


def test_assessment_selects_meat_for_quarantine(demo, django_capture_on_commit_callbacks):
    declaration = file(demo, items=[MEAT_ITEM])

    with django_capture_on_commit_callbacks() as callbacks:
        assessment.assess_declarations(declaration_ids=[declaration.pk])

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.INSPECTION_REQUIRED
    assert declaration.decided_at is not None
    decisions = Decision.objects.filter(declaration=declaration)
    assert sorted(d.outcome for d in decisions) == ["quarantine", "quarantine"]
    assert {d.inspection_area.code for d in decisions} == {"IA1"}
    assert decisions[0].rules_hit[0]["reason"] == "Imported meat is checked by quarantine officers."
    change = TimelineEvent.objects.filter(kind="declaration.status_changed").last()
    assert change.data["to"] == "inspection_required"
    assert sorted(change.data["selected"]) == ["COSU6123451", "CSNU8011228"]
    assert TimelineEvent.objects.filter(kind="inspection.container_decided").count() == 2
    # one after-commit push: a frame to the officers' queue, one to the declaration's watchers
    assert len(callbacks) == 1


def test_assessment_releases_goods_no_rule_selects(demo):
    declaration = file(demo)

    assessment.assess_declarations(declaration_ids=[declaration.pk])

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.RELEASED
    assert set(Decision.objects.values_list("outcome", flat=True)) == {"release"}
    assert Decision.objects.filter(inspection_area__isnull=False).exists() is False


def test_assessment_twice_changes_nothing_the_second_time(demo):
    declaration = file(demo, items=[MEAT_ITEM])
    assessment.assess_declarations(declaration_ids=[declaration.pk])
    events_before = TimelineEvent.objects.count()

    with CaptureQueriesContext(connection) as queries:
        assessment.assess_declarations(declaration_ids=[declaration.pk])

    assert TimelineEvent.objects.count() == events_before
    assert Decision.objects.count() == 2
    assert not any(q["sql"].startswith(("INSERT", "UPDATE")) for q in queries.captured_queries)


def test_a_decided_declaration_cannot_be_submitted_again(demo):
    declaration = file(demo)
    assessment.assess_declarations(declaration_ids=[declaration.pk])
    declaration.refresh_from_db()
    events_before = TimelineEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        services.declaration_submit(declaration=declaration, user=demo.importer)

    declaration.refresh_from_db()
    assert declaration.status == Declaration.Status.RELEASED
    assert TimelineEvent.objects.count() == events_before


def test_requeue_finds_only_declarations_stuck_in_submitted(demo):
    stuck = file(demo)
    decided = file(demo, bl_number="COSU6409999990", containers=["OOLU6123458"])
    assessment.assess_declarations(declaration_ids=[decided.pk])
    Declaration.objects.filter(pk__in=[stuck.pk, decided.pk]).update(
        submitted_at=stuck.submitted_at - timedelta(minutes=10)
    )

    assert services.declaration_requeue_stuck(older_than_seconds=120) == [stuck.pk]
