"""Export lists (9610 / 9710 / 9810) cleared one by one and summarised monthly into one
declaration per e-commerce enterprise, trade mode and destination (清单核放、汇总申报)."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from declarations.models import Declaration, DeclarationItem
from ecommerce import summaries, tasks
from ecommerce.models import InventoryList, MonthlySummary
from port.errors import InvalidInput, NotYours
from port.models import TimelineEvent
from tests.ecommerce import factories
from tests.ecommerce.conftest import file, file_parcels
from tests.ecommerce.factories import exported, parcel

S = InventoryList.Status


def last_month() -> tuple[int, int, date]:
    year, month = summaries.previous_month()
    return year, month, date(year, month, 1)


def file_exports(ec, parcels) -> None:
    file_parcels(ec, parcels, kinds=("order", "waybill", "list"))


def released_last_month() -> None:
    year, month, _first = last_month()
    moment = timezone.make_aware(timezone.datetime(year, month, 15, 12))  # noqa: DTZ001
    InventoryList.objects.update(decided_at=moment)


def month_of_exports(ec, start: int = 1) -> None:
    """Last month: 9610 to the US (two lists, two codes), 9710 to the US, 9810 to Germany."""
    milk = parcel(start + 1, hs_code="1901101000", quantity=3)
    file_exports(
        ec,
        [
            exported(parcel(start)),
            exported(milk),
            exported(parcel(start + 2, quantity=5), "9710", reference="B2B-7"),
            exported(parcel(start + 3), "9810", "DE", reference="FRA-WH2"),
        ],
    )
    released_last_month()


def test_an_export_list_names_its_destination_and_its_b2b_order_or_overseas_warehouse(ec):
    # given
    good = exported(parcel(1), "9710", reference="B2B-1")
    no_destination = exported(parcel(2))
    no_destination["list"].pop("destination")
    bad_country = exported(parcel(3), destination="XX")
    no_order = exported(parcel(4), "9710")
    no_order["list"].pop("b2b_order_no")
    no_warehouse = exported(parcel(5), "9810")
    no_warehouse["list"].pop("overseas_warehouse")
    # when
    result = file(
        "list",
        ec.declarant,
        [p["list"] for p in (good, no_destination, bad_country, no_order, no_warehouse)],
    )
    # then
    assert result.filed == 1
    assert {(e["index"], e["field"]) for e in result.errors} == {
        (1, "destination"),
        (2, "destination"),
        (3, "b2b_order_no"),
        (4, "overseas_warehouse"),
    }
    filed = InventoryList.objects.get()
    assert (filed.direction, filed.destination, filed.export_reference) == ("E", "US", "B2B-1")


def test_a_past_month_is_declared_once_per_enterprise_mode_and_destination(ec):
    # given
    month_of_exports(ec)
    year, month, first = last_month()
    # when
    made = summaries.month_summarise(year=year, month=month, user=ec.officer)
    # then: three summaries, each a released export declaration through declarations
    assert sorted((s.trade_mode, s.destination, s.lists) for s in made) == [
        ("9610", "US", 2),
        ("9710", "US", 1),
        ("9810", "DE", 1),
    ]
    retail = MonthlySummary.objects.get(trade_mode="9610")
    declaration = retail.declaration
    assert (declaration.direction, declaration.status, declaration.trade_mode) == (
        "export",
        Declaration.Status.RELEASED,
        "9610",
    )
    assert (declaration.enterprise_id, declaration.trading_country) == (ec.enterprise.pk, "US")
    assert declaration.port_call_id is None
    assert len(declaration.number) == 18
    lines = list(
        DeclarationItem.objects.filter(declaration=declaration).values_list(
            "hs_code", "quantity", "value"
        )
    )
    assert lines == [
        ("1901101000", Decimal("3.000"), Decimal("300.00")),
        ("3304990000", Decimal("2.000"), Decimal("200.00")),
    ]
    assert retail.value_cents == 20000 + 1000 + 30000 + 1000
    assert MonthlySummary.objects.get(trade_mode="9710").references == ["B2B-7"]
    assert MonthlySummary.objects.get(trade_mode="9810").references == ["FRA-WH2"]
    assert retail.month == first
    assert TimelineEvent.objects.filter(kind="ecommerce.month_summarised").count() == 3
    assert TimelineEvent.objects.filter(
        kind="declaration.filed", subject_id=declaration.pk
    ).exists()
    # when: the beat runs again, and so does the officer
    tasks.month_summarise_task()
    again = summaries.month_summarise(year=year, month=month, user=ec.officer)
    # then: nothing is declared twice
    assert again == []
    assert Declaration.objects.count() == 3


def test_a_month_not_over_is_refused_and_changes_nothing(ec):
    file_exports(ec, [exported(parcel(1))])
    now = timezone.localdate()
    with pytest.raises(InvalidInput) as refused:
        summaries.month_summarise(year=now.year, month=now.month, user=ec.officer)
    assert "month" in refused.value.errors
    assert (Declaration.objects.count(), MonthlySummary.objects.count()) == (0, 0)


def test_an_enterprise_summarises_its_own_exports_and_a_declarant_none(ec):
    month_of_exports(ec)
    year, month, _first = last_month()
    with pytest.raises(NotYours):
        summaries.month_summarise(year=year, month=month, user=ec.alice)
    with pytest.raises(NotYours):
        summaries.month_summarise(
            year=year, month=month, user=ec.enterprise_user, enterprise_id=ec.platform.pk
        )
    assert Declaration.objects.count() == 0
    made = summaries.month_summarise(year=year, month=month, user=ec.enterprise_user)
    assert {s.enterprise_id for s in made} == {ec.enterprise.pk}
    assert made[0].created_by == ec.enterprise_user


def test_summarising_takes_the_same_queries_whatever_the_months_size(ec):
    def queries_for(start: int, count: int, destinations: list[str]) -> int:
        InventoryList.objects.all().delete()
        MonthlySummary.objects.all().delete()
        Declaration.objects.all().delete()
        file_exports(
            ec,
            [
                exported(
                    parcel(start + i, quantity=1 + i % 4),
                    destination=destinations[i % len(destinations)],
                )
                for i in range(count)
            ],
        )
        released_last_month()
        year, month, _first = last_month()
        with CaptureQueriesContext(connection) as captured:
            summaries.month_summarise(year=year, month=month, user=None)
        return len(captured)

    assert queries_for(100, 2, ["US"]) == queries_for(200, 40, ["US", "DE", "JP", "GB"])
    assert MonthlySummary.objects.count() == 4


def test_the_summaries_api_files_once_and_shows_each_its_own(ec, api_for):
    month_of_exports(ec)
    year, month, _first = last_month()
    url = "/api/v1/ecommerce/summaries/"
    body = {"month": f"{year:04d}-{month:02d}"}
    assert api_for(ec.charlie).post(url, body, format="json").status_code == 404
    assert api_for(ec.officer).post(url, {"month": "2026-1"}, format="json").status_code == 400
    first = api_for(ec.officer).post(url, body, format="json")
    assert first.status_code == 201
    assert len(first.json()) == 3
    repeat = api_for(ec.officer).post(url, body, format="json")
    assert (repeat.status_code, repeat.json()) == (200, [])
    mine = api_for(ec.enterprise_user).get(url, {"month": body["month"]}).json()
    assert {row["trade_mode"] for row in mine} == {"9610", "9710", "9810"}
    assert all(len(row["declaration_number"]) == 18 for row in mine)
    assert api_for(ec.alice).get(url).status_code == 404


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_export_and_summary_pages_in_both_languages(ec, client, language):
    month_of_exports(ec)
    client.force_login(ec.enterprise_user)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    exports = client.get("/ecommerce/exports/", **headers)
    assert exports.status_code == 200
    assert exports.content.decode().count("data-list=") == 4
    assert "B2B-7" in exports.content.decode()
    page = client.get("/ecommerce/summaries/", **headers)
    assert page.status_code == 200
    year, month, _first = last_month()
    # the button summarises the past month; a month not over is named on its field
    now = timezone.localdate()
    refused = client.post("/ecommerce/summaries/", {"month": f"{now:%Y-%m}"}, **headers)
    assert refused.status_code == 400
    assert "month" in refused.context["form"].errors
    done = client.post("/ecommerce/summaries/", {"month": f"{year:04d}-{month:02d}"}, **headers)
    assert done.status_code == 302
    page = client.get("/ecommerce/summaries/", **headers).content.decode()
    assert page.count("data-summary=") == 3
    if language == "zh-hans":
        assert "月度汇总申报" in page
    client.force_login(ec.charlie)
    assert client.get("/ecommerce/exports/").status_code == 404
    assert client.get("/ecommerce/summaries/").status_code == 404


def test_a_declarant_sees_its_export_lists_not_anothers(ec, client):
    file_exports(ec, [exported(parcel(1))])
    client.force_login(ec.bob)
    assert client.get("/ecommerce/exports/").content.decode().count("data-list=") == 0
    client.force_login(ec.alice)
    assert client.get("/ecommerce/exports/").content.decode().count("data-list=") == 1


@pytest.mark.slow
def test_two_runs_of_one_month_at_once_declare_it_once(transactional_db):
    ec = factories.world()
    month_of_exports(ec)
    year, month, _first = last_month()
    barrier, made = threading.Barrier(2), []

    def run(user):
        try:
            barrier.wait()
            made.append(len(summaries.month_summarise(year=year, month=month, user=user)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in (ec.officer, None)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [0, 3]
    assert Declaration.objects.count() == MonthlySummary.objects.count() == 3


def test_previous_month_of_january_is_december():
    assert summaries.previous_month(date(2027, 1, 5)) == (2026, 12)
    assert summaries.previous_month(date(2026, 3, 1) + timedelta(days=0)) == (2026, 2)


def test_the_enterprise_reads_its_summary_declaration_on_the_declarations_pages(ec, client):
    month_of_exports(ec)
    year, month, _first = last_month()
    summaries.month_summarise(year=year, month=month, user=None)
    declaration = MonthlySummary.objects.get(trade_mode="9610").declaration
    client.force_login(ec.enterprise_user)
    detail = client.get(declaration.get_absolute_url())
    assert detail.status_code == 200
    assert "3304990000" in detail.content.decode()
    listing = client.get("/declarations/")
    assert listing.status_code == 200
    assert declaration.number in listing.content.decode()


def test_the_dashboards_rollup_takes_in_a_summary_declaration(ec):
    from analytics.models import ClearanceFact
    from analytics.services import rollups_consume_all

    month_of_exports(ec)
    year, month, _first = last_month()
    summaries.month_summarise(year=year, month=month, user=None)
    rollups_consume_all()
    facts = ClearanceFact.objects.filter(trade_mode__in=["9610", "9710", "9810"])
    assert facts.count() == 3
