"""The port gate's refusals raised before alarms existed become alarms, so they can be
worked and closed (an acknowledged alert is closed as already handled)."""

from django.db import migrations


def forwards(apps, schema_editor):
    Alert = apps.get_model("inspection", "Alert")
    Alarm = apps.get_model("alarms", "Alarm")
    Alarm.objects.bulk_create(
        [
            Alarm(
                kind="gate.refused",
                severity="high",
                status="closed" if alert.acknowledged_by_id else "open",
                outcome="no_action" if alert.acknowledged_by_id else "",
                closed_by_id=alert.acknowledged_by_id,
                closed_at=alert.updated_at if alert.acknowledged_by_id else None,
                customs_office_id=alert.customs_office_id,
                subject=alert.container.number,
                message=alert.message[:400],
                data={"gate_event": alert.gate_event_id},
                dedupe_key=f"gate-event:{alert.gate_event_id}" if alert.gate_event_id
                else f"alert:{alert.pk}",
            )
            for alert in Alert.objects.select_related("container")
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("alarms", "0001_initial"),
        ("inspection", "0008_decision_sampling_seed"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
