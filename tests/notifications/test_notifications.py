"""Notifications: made once per event and recipient, sent once per channel in the
recipient's language, never to someone who may not see the subject."""

import logging

import pytest
from asgiref.sync import async_to_sync
from django.core import mail

from declarations.models import Declaration
from notifications import services, sms
from notifications.models import Contact, Notification, Preference
from port.models import TimelineEvent
from port.timeline import timeline_record
from tests.conftest import filing, websocket_for


@pytest.fixture
def filed(demo, api_for):
    response = api_for(demo.importer).post(
        "/api/v1/declarations/", filing(demo.port_call.pk), format="json"
    )
    assert response.status_code == 201
    return Declaration.objects.get(pk=response.json()["id"])


def _released(declaration):
    return timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
        actor=None,
        organisation=declaration.enterprise,
        data={"from": "submitted", "to": "released"},
    )


def _catch_up():
    """Everything on the timeline so far, however recent (no gap to wait for in a test)."""
    made = services.notifications_make()
    services.notifications_deliver()
    return made


def test_a_decision_reaches_the_enterprises_members_once(demo, filed):
    demo.importer.email = "importer@example.org"
    demo.importer.save()
    _released(filed)

    _catch_up()
    _catch_up()  # a second run makes and sends nothing more

    notes = Notification.objects.filter(kind="declaration.decided")
    assert {n.recipient_id for n in notes} >= {demo.importer.pk}
    assert demo.exporter.pk not in {n.recipient_id for n in notes}  # another enterprise
    assert demo.officer.pk not in {n.recipient_id for n in notes}
    assert notes.filter(recipient=demo.importer).count() == 1
    sent = [m for m in mail.outbox if m.to == ["importer@example.org"]]
    assert len(sent) == 1
    assert f"Declaration {filed.number}: released." in sent[0].subject
    assert f"/declarations/{filed.pk}/" in sent[0].body


def test_the_container_at_the_inspection_area_goes_by_sms_with_its_call_number(
    demo, filed, caplog, monkeypatch
):
    from inspection import queries as inspection_queries

    Contact.objects.create(user=demo.importer, phone="+8613800138000", language="en")
    # The ticket's declaration, as inspection's query tells it (tickets are made elsewhere).
    monkeypatch.setattr(
        inspection_queries,
        "declaration_ids_of_inspections",
        lambda *, inspection_ids: dict.fromkeys(inspection_ids, filed.pk),
    )
    timeline_record(
        subject=filed,
        kind=TimelineEvent.Kind.INSPECTION_QUEUED,
        actor=None,
        organisation=filed.enterprise,
        data={"container": "COSU6123451", "ticket": "H-007", "area": "HC1"},
    )
    sms.ConsoleSms.outbox.clear()
    with caplog.at_level(logging.INFO, logger="notifications.sms"):
        _catch_up()
    texts = [m for m in sms.ConsoleSms.outbox if m["to"] == "+8613800138000"]
    assert len(texts) == 1
    assert "call number H-007" in texts[0]["text"]
    assert "13800138000" not in caplog.text  # the number is masked in the log
    assert "+86*******8000" in caplog.text


def test_a_person_who_turned_e_mail_off_gets_none(demo, filed):
    demo.importer.email = "importer@example.org"
    demo.importer.save()
    Preference.objects.create(
        user=demo.importer, kind="declaration.decided", email=False, sms=False
    )
    _released(filed)
    _catch_up()
    assert not [m for m in mail.outbox if m.to == ["importer@example.org"]]
    assert Notification.objects.filter(recipient=demo.importer).exists()  # still in the app


def test_a_failed_sms_is_sent_once_later(demo, filed, settings):
    Contact.objects.create(user=demo.importer, phone="+8613800138000")
    Preference.objects.create(user=demo.importer, kind="declaration.decided", email=False, sms=True)
    _released(filed)
    settings.SMS_BACKEND = "tests.notifications.test_notifications.BrokenSms"
    services.notifications_make()
    with pytest.raises(sms.SmsError):
        services.notifications_deliver()
    assert not Notification.objects.filter(
        recipient=demo.importer, sms_sent_at__isnull=False
    ).exists()
    settings.SMS_BACKEND = "notifications.sms.ConsoleSms"
    sms.ConsoleSms.outbox.clear()
    services.notifications_deliver()
    services.notifications_deliver()
    assert len([m for m in sms.ConsoleSms.outbox if m["to"] == "+8613800138000"]) == 1


class BrokenSms:
    def send(self, *, to, text):
        raise sms.SmsError("gateway down")


def test_the_list_shows_only_ones_own_and_marking_read_clears_the_bell(demo, filed, client):
    _released(filed)
    services.notifications_make()
    client.force_login(demo.exporter)
    assert f"Declaration {filed.number}" not in client.get("/notifications/").content.decode()
    client.force_login(demo.importer)
    page = client.get("/notifications/").content.decode()
    assert f"Declaration {filed.number}: released." in page
    assert (
        '<span class="bell-count">1</span>' in client.get("/notifications/badge/").content.decode()
    )
    client.post("/notifications/read/")
    assert "bell-count" not in client.get("/notifications/badge/").content.decode()


def test_settings_are_saved_and_a_bad_phone_is_refused(demo, client):
    client.force_login(demo.importer)
    refused = client.post("/notifications/settings/", {"phone": "12345", "language": "en"})
    assert refused.status_code == 200
    assert "international form" in refused.content.decode()
    assert not Contact.objects.filter(user=demo.importer).exists()
    saved = client.post(
        "/notifications/settings/",
        {"phone": "+86 138 0013 8000", "language": "zh-hans", "inspection.queued:sms": "on"},
    )
    assert saved.status_code == 302
    contact = Contact.objects.get(user=demo.importer)
    assert (contact.phone, contact.language) == ("+8613800138000", "zh-hans")
    assert Preference.objects.get(user=demo.importer, kind="inspection.queued").sms is True
    assert Preference.objects.get(user=demo.importer, kind="declaration.decided").email is False


@pytest.mark.django_db(transaction=True)
def test_the_bell_is_told_live_and_nobody_else_hears(demo, filed):
    importer, exporter = websocket_for(demo.importer), websocket_for(demo.exporter)

    async def scenario():
        await importer.connect()
        await exporter.connect()
        from channels.db import database_sync_to_async

        await database_sync_to_async(lambda: (_released(filed), services.notifications_make()))()
        seen = []
        for _ in range(5):
            event = await importer.receive_json_from(timeout=5)
            seen.append(event)
            if event["type"] == "notification.changed":
                break
        quiet = [e for e in await _drain(exporter) if e["type"] == "notification.changed"]
        await importer.disconnect()
        await exporter.disconnect()
        return seen[-1], quiet

    async def _drain(socket):
        events = []
        while not await socket.receive_nothing(timeout=0.5):
            events.append(await socket.receive_json_from())
        return events

    last, quiet = async_to_sync(scenario)()
    assert last == {"type": "notification.changed", "unread": 1}
    assert quiet == []


def test_each_recipient_reads_it_in_their_own_language(demo, filed, client):
    demo.importer.email = "importer@example.org"
    demo.importer.save()
    Contact.objects.create(user=demo.importer, language="zh-hans")
    _released(filed)
    _catch_up()
    (sent,) = [m for m in mail.outbox if m.to == ["importer@example.org"]]
    assert f"报关单 {filed.number}：已放行。" in sent.subject
    client.force_login(demo.importer)
    page = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Declaration {filed.number}: released." in page  # the page speaks the reader's


@pytest.mark.django_db(transaction=True)
def test_the_delivery_task_run_twice_at_once_sends_each_message_once(demo, filed):
    """Two runs of the delivery (a redelivered Celery task beside the sweep) at the same
    instant, each in its own transaction: every channel is claimed by one of them."""
    import threading

    from django.db import connection

    demo.importer.email = "importer@example.org"
    demo.importer.save()
    Contact.objects.update_or_create(user=demo.importer, defaults={"phone": "+8613800138000"})
    Preference.objects.create(user=demo.importer, kind="declaration.decided", sms=True)
    _released(filed)
    services.notifications_make()
    start, sent = threading.Barrier(3), []

    def deliver():
        try:
            start.wait()
            sent.append(services.notifications_deliver())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(sent) == 3
    mine = [m for m in mail.outbox if m.to == ["importer@example.org"]]
    assert len(mine) == 1
    note = Notification.objects.get(kind="declaration.decided", recipient=demo.importer)
    assert note.email_sent_at is not None
    assert note.sms_sent_at is not None
    assert sum(run["sms"] for run in sent) == 1  # only the importer has a phone
    assert sum(run["email"] for run in sent) == len(mail.outbox)  # no e-mail sent twice
