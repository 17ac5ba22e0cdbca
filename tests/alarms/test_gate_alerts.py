from alarms import services
from alarms.models import Alarm
from inspection import gate as port_gate
from port.models import Container


def test_a_refused_gate_out_is_an_alarm_officers_can_close(demo):
    Container.objects.create(number="TGHU0000013")

    event = port_gate.gate_report(
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


def test_the_queue_board_drops_the_alert_once_its_alarm_is_closed(demo):
    from django.test import Client

    Container.objects.create(number="TGHU0000013")
    port_gate.gate_report(user=demo.terminal, container_number="TGHU0000013", direction="out")
    client = Client()
    client.force_login(demo.officer)
    assert "TGHU0000013" in client.get("/inspection/queue/").content.decode()

    alarm = Alarm.objects.get(kind="gate.refused")
    services.alarm_close(alarm_id=alarm.pk, officer=demo.officer, outcome="violation")

    assert "TGHU0000013" not in client.get("/inspection/queue/").content.decode()


def test_a_refused_gate_out_reads_in_each_officers_language(demo):
    from django.test import Client
    from django.utils import translation

    Container.objects.create(number="TGHU0000013")
    with translation.override("en"):  # the terminal's request is in English
        event = port_gate.gate_report(
            user=demo.terminal, container_number="TGHU0000013", direction="out"
        )

    alarm = Alarm.objects.get(kind="gate.refused")
    assert event.reason == "No customs declaration covers this container."
    assert "No customs declaration covers this container." in alarm.data["messages"]["en"]
    assert "没有" in alarm.data["messages"]["zh-hans"]
    assert "No customs" not in alarm.data["messages"]["zh-hans"]
    client = Client()
    client.force_login(demo.officer)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/alarms/").content.decode()
    assert alarm.data["messages"]["zh-hans"] in page


def test_the_queue_boards_alert_reads_in_the_officers_language(demo):
    from django.test import Client
    from django.utils import translation

    Container.objects.create(number="TGHU0000013")
    with translation.override("en"):
        port_gate.gate_report(user=demo.terminal, container_number="TGHU0000013", direction="out")
    client = Client()
    client.force_login(demo.officer)

    english = client.get("/inspection/queue/").content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get("/inspection/queue/").content.decode()

    assert "No customs declaration covers this container." in english
    assert "该集装箱没有对应的报关单。" in chinese
    assert "No customs declaration covers this container." not in chinese
