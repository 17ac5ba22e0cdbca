"""Two-step declaration: summary, guarantee quota, step 2 deadline, completion."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from declarations import assessed, services, two_step
from declarations.models import Declaration, GuaranteeAccount
from inspection import assessment
from port.errors import InvalidInput
from port.models import Organisation, TimelineEvent
from tests.conftest import container_number
from tests.declarations.factories import TILES, file, filing_input

DUTY = Decimal("123600.00")  # 412,000 CNY of tiles at the demo MFN rate of 30 %


def file_summary(demo, user=None, **kwargs):
    return file(
        demo,
        user=user or demo.exporter,
        kind="summary",
        header={"permits_involved": False, "quarantine_involved": False},
        **kwargs,
    )


def released_summary(demo):
    summary = file_summary(demo)
    assessment.assess_declarations(declaration_ids=[summary.pk])
    summary.refresh_from_db()
    return summary


def used(demo) -> Decimal:
    return GuaranteeAccount.objects.get(enterprise=demo.exporter_org).used


def test_summary_draws_the_estimated_duty_from_the_quota(demo):
    summary = file_summary(demo)

    summary.refresh_from_db()
    assert summary.guarantee_amount == DUTY
    assert used(demo) == DUTY
    event = TimelineEvent.objects.get(kind="declaration.guarantee_drawn")
    assert (event.data, event.actor) == ({"amount": "123600.00"}, demo.exporter)


def test_certified_enterprise_files_a_summary_without_guarantee(demo):
    summary = file_summary(demo, user=demo.importer)

    assert summary.guarantee_amount == 0
    assert TimelineEvent.objects.filter(kind="declaration.guarantee_drawn").exists() is False


def test_lower_credit_enterprise_may_not_use_two_step(demo):
    Organisation.objects.filter(pk=demo.exporter_org.pk).update(credit_rating="lower")

    with pytest.raises(InvalidInput) as refused:
        file_summary(demo)

    assert refused.value.errors == {
        "enterprise": ["Two-step declaration is open to enterprises of general credit or better."]
    }
    assert Declaration.objects.exists() is False


def test_a_summary_beyond_the_quota_is_refused_and_writes_nothing(demo):
    GuaranteeAccount.objects.filter(enterprise=demo.exporter_org).update(quota=Decimal("100000"))

    with pytest.raises(InvalidInput) as refused:
        file_summary(demo)

    assert refused.value.errors == {
        "guarantee": [
            "The guarantee of 123600.00 CNY exceeds the quota still available (100000.00 CNY)."
        ]
    }
    assert Declaration.objects.exists() is False
    assert used(demo) == 0


def test_release_of_the_summary_starts_the_14_day_countdown(demo):
    summary = released_summary(demo)

    assert summary.status == Declaration.Status.RELEASED
    assert summary.full_due_at == summary.decided_at + timedelta(days=14)


def test_step_2_release_completes_the_summary_and_restores_the_guarantee(demo):
    summary = released_summary(demo)

    full = file(
        demo,
        user=demo.exporter,
        summary_id=summary.pk,
        bl_number=summary.bl_number,
        containers=[summary.containers.get().number],
    )
    assessment.assess_declarations(declaration_ids=[full.pk])

    summary.refresh_from_db()
    assert summary.status == Declaration.Status.COMPLETED
    assert summary.guarantee_restored is True
    assert used(demo) == 0
    assert TimelineEvent.objects.filter(kind="declaration.guarantee_restored").count() == 1


def test_step_2_must_follow_a_released_summary_with_its_bl(demo):
    summary = file_summary(demo)

    with pytest.raises(InvalidInput) as refused:
        file(demo, user=demo.exporter, summary_id=summary.pk, bl_number=summary.bl_number)

    assert refused.value.errors == {
        "summary": ["Step 2 follows a released summary; this one is Submitted."]
    }
    assessment.assess_declarations(declaration_ids=[summary.pk])
    with pytest.raises(InvalidInput) as refused:
        file(demo, user=demo.exporter, summary_id=summary.pk, bl_number="OTHERBL001")
    assert refused.value.errors == {
        "bl_number": [f"Step 2 carries the summary's B/L number {summary.bl_number}."]
    }


def test_withdrawing_a_summary_restores_its_guarantee(demo):
    summary = file_summary(demo)

    services.declaration_withdraw(declaration_id=summary.pk, user=demo.exporter, reason="Cancelled")

    assert used(demo) == 0


def test_reminders_and_overdue_flag_follow_the_clock(demo):
    summary = released_summary(demo)
    due = summary.full_due_at

    assert two_step.declaration_step2_sweep(now=due - timedelta(days=10)) == {
        "reminders": 0,
        "overdue": 0,
    }
    assert two_step.declaration_step2_sweep(now=due - timedelta(days=6)) == {
        "reminders": 1,
        "overdue": 0,
    }
    assert two_step.declaration_step2_sweep(now=due - timedelta(days=6)) == {
        "reminders": 0,
        "overdue": 0,
    }
    summary.refresh_from_db()
    assert (summary.reminders_sent, summary.is_overdue) == (1, False)

    assert two_step.declaration_step2_sweep(now=due + timedelta(minutes=1)) == {
        "reminders": 1,
        "overdue": 1,
    }
    assert two_step.declaration_step2_sweep(now=due + timedelta(days=1)) == {
        "reminders": 0,
        "overdue": 0,
    }
    summary.refresh_from_db()
    assert (summary.reminders_sent, summary.is_overdue) == (3, True)
    assert TimelineEvent.objects.filter(kind="declaration.step2_overdue").count() == 1
    assert TimelineEvent.objects.filter(kind="declaration.step2_reminder").count() == 2


def test_a_completed_summary_is_never_flagged_overdue(demo):
    summary = released_summary(demo)
    full = file(
        demo,
        user=demo.exporter,
        summary_id=summary.pk,
        bl_number=summary.bl_number,
        containers=[summary.containers.get().number],
    )
    assessment.assess_declarations(declaration_ids=[full.pk])

    counts = two_step.declaration_step2_sweep(now=summary.full_due_at + timedelta(days=1))

    assert counts == {"reminders": 0, "overdue": 0}


def test_concurrent_summaries_never_overdraw_the_quota(transactional_db, demo):
    # given: a quota of 500,000 CNY covers four summaries of 123,600 CNY, not six
    starting = threading.Barrier(6)
    outcomes: list[str] = []

    def file_one(n: int) -> None:
        try:
            starting.wait(timeout=10)
            services.declaration_file_input(
                user=demo.exporter,
                filing=filing_input(
                    demo, kind="summary", items=[TILES], containers=[container_number(700 + n)]
                ),
            )
            outcomes.append("filed")
        except InvalidInput as error:
            outcomes.append(next(iter(error.errors)))
        finally:
            connection.close()

    # when: six filings race, each on its own database connection
    threads = [threading.Thread(target=file_one, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then
    assert sorted(outcomes) == ["filed"] * 4 + ["guarantee"] * 2
    assert used(demo) == DUTY * 4
    assert Declaration.objects.filter(kind="summary").count() == 4


def test_a_summary_released_after_inspection_gets_its_deadline(demo):
    summary = file_summary(demo)
    Declaration.objects.filter(pk=summary.pk).update(status=Declaration.Status.INSPECTION_REQUIRED)

    assessed.declaration_release(declaration_id=summary.pk, actor=demo.officer)

    summary.refresh_from_db()
    assert summary.status == Declaration.Status.RELEASED
    assert summary.full_due_at is not None


def test_step_2_released_after_inspection_completes_its_summary(demo):
    summary = released_summary(demo)
    full = file(
        demo,
        user=demo.exporter,
        summary_id=summary.pk,
        bl_number=summary.bl_number,
        containers=[summary.containers.get().number],
    )
    Declaration.objects.filter(pk=full.pk).update(status=Declaration.Status.INSPECTION_REQUIRED)

    assessed.declaration_release(declaration_id=full.pk, actor=demo.officer)

    summary.refresh_from_db()
    assert summary.status == Declaration.Status.COMPLETED
    assert used(demo) == 0
