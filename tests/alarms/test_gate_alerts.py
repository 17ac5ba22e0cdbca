from alarms import services
from alarms.models import Alarm
from inspection import services as inspection_services
from port.models import Container


def test_a_refused_gate_out_is_an_alarm_officers_can_close(demo):
    Container.objects.create(number="TGHU0000013")

    event = inspection_services.gate_report(
        user=demo.terminal, container_number="TGHU0000013", direction="out", truck_plate="闽D1"
    )

    assert event.allowed is False
    alarm = Alarm.objects.get(kind="gate.refused")
    assert (alarm.customs_office_id, alarm.subject, alarm.status) == (
        demo.customs.pk,
        "TGHU0000013",
        "open",
    )
    services.alarm_close(alarm_id=alarm.pk, officer=demo.officer, outcome="violation")
    alarm.refresh_from_db()
    assert alarm.status == "closed"
