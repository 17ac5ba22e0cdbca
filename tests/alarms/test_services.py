import pytest

from alarms import queries, services
from alarms.models import Alarm
from alarms.services import AlarmSpec
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Organisation, TimelineEvent, User


@pytest.fixture
def alarm(demo):
    return services.alarm_raise(
        spec=AlarmSpec(
            kind="zone.gate_stop",
            severity="warning",
            customs_office_id=demo.customs.pk,
            dedupe_key="passage:1",
            subject="闽D12345",
            message="Stopped: no pass",
        )
    )


def kinds(alarm) -> list[str]:
    return list(queries.alarm_history(alarm).values_list("kind", flat=True))


def test_raising_the_same_discrepancy_twice_keeps_one_alarm(demo, alarm):
    again = services.alarm_raise(
        spec=AlarmSpec(
            kind="zone.gate_stop",
            severity="warning",
            customs_office_id=demo.customs.pk,
            dedupe_key="passage:1",
            message="again",
        )
    )
    assert again.pk == alarm.pk
    assert kinds(alarm) == ["alarm.raised"]


def test_an_alarms_life_is_on_its_timeline(demo, alarm, django_capture_on_commit_callbacks):
    expert = User.objects.get(username="expert")
    with django_capture_on_commit_callbacks() as callbacks:
        services.alarm_acknowledge(alarm_id=alarm.pk, officer=demo.officer)
        services.alarm_assign(alarm_id=alarm.pk, officer=demo.officer, assignee_id=expert.pk)
        services.alarm_annotate(alarm_id=alarm.pk, officer=expert, note="Driver called back")
        services.alarm_close(
            alarm_id=alarm.pk, officer=expert, outcome="corrected", note="Pass refiled"
        )

    alarm.refresh_from_db()
    assert (alarm.status, alarm.outcome, alarm.assigned_to, alarm.closed_by) == (
        "closed",
        "corrected",
        expert,
        expert,
    )
    assert alarm.acknowledged_by == demo.officer
    assert kinds(alarm) == [
        "alarm.raised",
        "alarm.acknowledged",
        "alarm.assigned",
        "alarm.annotated",
        "alarm.closed",
    ]
    assert len(callbacks) == 4  # one live push per step


def test_a_closed_alarm_refuses_more_work_and_changes_nothing(demo, alarm):
    services.alarm_close(alarm_id=alarm.pk, officer=demo.officer, outcome="false_alarm")
    with pytest.raises(TransitionNotAllowed):
        services.alarm_close(alarm_id=alarm.pk, officer=demo.officer, outcome="violation")
    with pytest.raises(TransitionNotAllowed):
        services.alarm_annotate(alarm_id=alarm.pk, officer=demo.officer, note="late")
    alarm.refresh_from_db()
    assert alarm.outcome == "false_alarm"
    assert kinds(alarm) == ["alarm.raised", "alarm.closed"]


def test_closing_needs_an_outcome(demo, alarm):
    with pytest.raises(InvalidInput):
        services.alarm_close(alarm_id=alarm.pk, officer=demo.officer, outcome="")
    alarm.refresh_from_db()
    assert alarm.status == "open"


def test_assigning_to_someone_outside_the_office_is_refused(demo, alarm):
    with pytest.raises(InvalidInput):
        services.alarm_assign(alarm_id=alarm.pk, officer=demo.officer, assignee_id=demo.importer.pk)
    alarm.refresh_from_db()
    assert alarm.assigned_to is None


def test_another_office_neither_sees_nor_works_the_alarm(demo, alarm):
    xiangyu = User.objects.get(username="xiangyu")
    assert queries.alarm_list(user=xiangyu).exists() is False
    assert queries.alarm_list(user=demo.importer).exists() is False
    with pytest.raises(NotYours):
        services.alarm_acknowledge(alarm_id=alarm.pk, officer=xiangyu)
    assert queries.alarm_live_group(xiangyu, str(demo.customs.pk)) is None
    assert (
        queries.alarm_live_group(demo.officer, str(demo.customs.pk)) == f"alarms.{demo.customs.pk}"
    )


def test_raise_many_inserts_only_new_discrepancies(demo, alarm):
    specs = [
        AlarmSpec(
            kind="zone.gate_stop",
            severity="warning",
            customs_office_id=demo.customs.pk,
            dedupe_key="passage:1",
            message="old",
        ),
        AlarmSpec(
            kind="recon.dangerous_at_gate",
            severity="high",
            customs_office_id=demo.customs.pk,
            dedupe_key="x:1",
            message="new",
        ),
    ]
    created = services.alarm_raise_many(specs=specs)
    assert [a.dedupe_key for a in created] == ["x:1"]
    assert Alarm.objects.count() == 2
    assert TimelineEvent.objects.filter(kind="alarm.raised").count() == 2


def test_filters(demo, alarm):
    assert list(queries.alarm_list(user=demo.officer, filters={"severity": "high"})) == []
    assert list(
        queries.alarm_list(user=demo.officer, filters={"status": "active", "q": "D123"})
    ) == [alarm]
    assert Organisation.objects.filter(pk=alarm.customs_office_id).exists()


def test_an_alarm_is_handed_over_to_another_office_which_works_it_from_then_on(demo, alarm):
    from django.test import Client

    other = Organisation.objects.create(name="Xiamen Airport Customs", kind="customs_office")
    colleague = User.objects.create_user("airport-officer")
    colleague.memberships.create(organisation=other, role="officer")
    for bad, field in (({"office_id": demo.customs.pk}, "office"), ({"note": ""}, "note")):
        with pytest.raises(InvalidInput) as refused:
            services.alarm_hand_over(
                **{
                    "alarm_id": alarm.pk,
                    "officer": demo.officer,
                    "office_id": other.pk,
                    "note": "The truck went to the airport zone",
                    **bad,
                }  # fmt: skip
            )
        assert field in refused.value.errors

    handed = services.alarm_hand_over(
        alarm_id=alarm.pk, officer=demo.officer, office_id=other.pk, note="Airport zone's truck"
    )

    assert (handed.customs_office, handed.assigned_to) == (other, None)
    assert kinds(alarm)[-1] == "alarm.handed_over"
    with pytest.raises(NotYours):  # no longer this office's to work
        services.alarm_annotate(alarm_id=alarm.pk, officer=demo.officer, note="mine?")
    services.alarm_acknowledge(alarm_id=alarm.pk, officer=colleague)
    page = Client()
    page.force_login(demo.officer)
    assert page.get(f"/alarms/{alarm.pk}/").status_code == 404


def test_an_alarm_nobody_acknowledges_goes_up_a_severity_each_period_up_to_critical(demo, alarm):
    from datetime import timedelta

    from django.utils import timezone

    acknowledged = services.alarm_raise(
        spec=AlarmSpec(
            kind="zone.gate_stop",
            severity="warning",
            customs_office_id=demo.customs.pk,
            dedupe_key="passage:2",
            message="Stopped: seal",
        )
    )
    services.alarm_acknowledge(alarm_id=acknowledged.pk, officer=demo.officer)
    start = timezone.now()
    assert services.alarms_escalate(now=start) == []  # too young

    assert services.alarms_escalate(now=start + timedelta(hours=2, minutes=1)) == [alarm.pk]
    assert services.alarms_escalate(now=start + timedelta(hours=2, minutes=2)) == []  # idempotent
    assert services.alarms_escalate(now=start + timedelta(hours=4, minutes=2)) == [alarm.pk]
    assert services.alarms_escalate(now=start + timedelta(hours=9)) == []  # critical: the top

    alarm.refresh_from_db()
    assert alarm.severity == "critical"
    assert kinds(alarm).count("alarm.escalated") == 2
    acknowledged.refresh_from_db()
    assert acknowledged.severity == "warning"  # acknowledged: someone works it
