from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import Alarm
from declarations.models import Declaration
from inspection.models import GateEvent
from port.models import Container, Organisation, Terminal
from shipping.models import ManifestEntry
from tests.conftest import container_number, filing
from tests.zones.factories import stock_in
from zones import reconcile
from zones.models import StockItem

DECLARED, OTHER = "COSU6123451", "TGHU0000013"


def manifest(demo, container, hours_ago=0, **extra):
    entry = ManifestEntry.objects.create(
        port_call=demo.port_call,
        submitted_by=Organisation.objects.get(kind="shipping_agent"),
        source="api",
        bl_number="COSU6401234560",
        container_number=container,
        **extra,
    )
    ManifestEntry.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return entry


def declare(demo, api_for, containers=(DECLARED,)):
    response = api_for(demo.importer).post(
        "/api/v1/declarations/",
        filing(demo.port_call.pk, containers=list(containers)),
        format="json",
    )
    assert response.status_code == 201, response.json()
    return Declaration.objects.get(pk=response.json()["id"])


def gate_out(demo, number, allowed=True, direction="out"):
    container, _ = Container.objects.get_or_create(number=number)
    return GateEvent.objects.create(
        container=container,
        terminal=Terminal.objects.get(code="XHCT"),
        direction=direction,
        allowed=allowed,
        reported_by=demo.terminal,
    )


def raised(kind) -> list[str]:
    return sorted(Alarm.objects.filter(kind=kind).values_list("subject", flat=True))


def test_a_manifest_container_never_declared_after_the_delay_is_raised(demo, api_for):
    declare(demo, api_for)
    manifest(demo, DECLARED, hours_ago=30)
    manifest(demo, OTHER, hours_ago=30)
    manifest(demo, "CSNU8011228", hours_ago=1)  # not yet overdue

    reconcile.reconcile()

    assert raised("recon.manifest_undeclared") == [OTHER]


def test_a_declared_container_missing_from_a_filed_manifest_is_raised(demo, api_for):
    declare(demo, api_for, containers=(DECLARED, "CSNU8011228"))
    manifest(demo, DECLARED)

    reconcile.reconcile()

    assert raised("recon.declared_not_manifested") == ["CSNU8011228"]


def test_no_manifest_yet_raises_nothing_about_declarations(demo, api_for):
    declare(demo, api_for)
    reconcile.reconcile()
    assert Alarm.objects.exists() is False


def test_a_gate_out_without_release_is_raised_and_a_released_one_is_not(demo, api_for):
    declaration = declare(demo, api_for)
    gate_out(demo, DECLARED)
    gate_out(demo, OTHER)
    Declaration.objects.filter(pk=declaration.pk).update(status=Declaration.Status.RELEASED)

    reconcile.reconcile()

    assert raised("recon.gate_without_release") == [OTHER]
    assert Alarm.objects.get(kind="recon.gate_without_release").severity == "critical"


def test_dangerous_goods_at_the_gate_are_raised(demo):
    manifest(demo, OTHER, un_number="1203", imdg_class="3")
    manifest(demo, DECLARED)
    gate_out(demo, OTHER, direction="in")
    gate_out(demo, DECLARED, direction="in")

    reconcile.reconcile()

    assert raised("recon.dangerous_at_gate") == [OTHER]


def test_zone_stock_that_differs_from_its_movements_is_raised(zone):
    stock_in(zone)
    reconcile.reconcile()
    assert raised("recon.zone_stock_mismatch") == []

    StockItem.objects.update(quantity=120)
    reconcile.reconcile()

    alarm = Alarm.objects.get(kind="recon.zone_stock_mismatch")
    assert (alarm.subject, alarm.customs_office_id) == ("GPU-4090", zone.zone.customs_office_id)


def test_a_second_run_raises_nothing_new(demo):
    manifest(demo, OTHER, hours_ago=30)
    first = reconcile.reconcile()
    second = reconcile.reconcile()
    assert first["manifest_never_declared"] == 1
    assert second["manifest_never_declared"] == 0
    assert Alarm.objects.count() == 1


def test_a_run_is_a_fixed_number_of_queries(demo, django_assert_max_num_queries):
    for n in range(20):
        manifest(demo, container_number(100 + n), hours_ago=30)
    with django_assert_max_num_queries(25):
        reconcile.reconcile()


@pytest.mark.slow
def test_a_worker_runs_the_reconciliation_task(celery_worker_process, demo):
    import time

    from port.celery import app

    manifest(demo, OTHER, hours_ago=30)

    app.send_task("zones.tasks.reconcile_task")

    deadline = time.monotonic() + 60
    while not Alarm.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert raised("recon.manifest_undeclared") == [OTHER]
