"""The enterprise's list page and export list page page by keyset (`before`), keep their
filters, show a filer only its own lists, and cost the same few queries however many lists
there are."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecommerce import queries
from ecommerce.models import Batch, DecisionStat, InventoryList

pytestmark = pytest.mark.django_db


def _lists(
    ec, count: int, *, declarant=None, platform=None, status="released", start=0, export=False
):
    now = timezone.now()
    batch = Batch.objects.create(organisation=ec.declarant, kind="list")
    InventoryList.objects.bulk_create(
        InventoryList(
            declarant=declarant or ec.declarant,
            platform=platform or ec.platform,
            enterprise=ec.enterprise,
            logistics=ec.logistics,
            list_no=f"L{start + n}",
            order_no=f"O{start + n}",
            waybill_no=f"W{start + n}",
            trade_mode="9710" if export else "9610",
            direction="E" if export else "I",
            destination="US" if export else "",
            buyer_key="k",
            buyer_name_key="n",
            buyer_name_masked="张*",
            buyer_id_masked="1101**********123X",
            goods_cents=10000,
            freight_cents=1000,
            goods_digest="d",
            status=status,
            batch=batch,
            created_at=now,
            decided_at=now,
            updated_at=now,
        )
        for n in range(count)
    )


def _shown(response) -> list[str]:
    return re.findall(r'data-list="([^"]+)"', response.content.decode())


def test_pages_follow_the_next_link_keeping_the_filters(client, ec):
    _lists(ec, 60)
    _lists(ec, 55, status="refused", start=1000)
    client.force_login(ec.alice)
    first = client.get("/ecommerce/lists/", {"status": "refused"})
    assert first.status_code == 200
    assert len(_shown(first)) == 50
    assert all(n.startswith("L10") for n in _shown(first))
    link = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1)
    assert "status=refused" in link
    assert "before=" in link
    second = client.get("/ecommerce/lists/?" + link.replace("&amp;", "&"))
    assert len(_shown(second)) == 5
    assert not set(_shown(first)) & set(_shown(second))
    assert 'rel="next"' not in second.content.decode()
    assert 'href="?status=refused" rel="first"' in second.content.decode()


def test_a_filer_sees_only_lists_it_declared_or_that_name_its_platform(client, ec):
    _lists(ec, 3)  # alice's enterprise declared them
    _lists(ec, 4, declarant=ec.other, start=100)  # bob's
    client.force_login(ec.bob)
    shown = _shown(client.get("/ecommerce/lists/"))
    assert sorted(shown) == ["L100", "L101", "L102", "L103"]
    client.force_login(ec.platform_user)  # the platform sees both declarants' lists
    assert len(_shown(client.get("/ecommerce/lists/"))) == 7
    client.force_login(ec.officer)
    assert len(_shown(client.get("/ecommerce/lists/"))) == 7
    # A cursor does not open anyone else's lists.
    client.force_login(ec.bob)
    assert sorted(_shown(client.get("/ecommerce/lists/", {"before": 10**9}))) == sorted(shown)


def test_list_page_is_keyset_with_no_count(ec):
    _lists(ec, 120)
    rows, after = queries.list_page(user=ec.alice)
    assert [r.list_no for r in rows] == [f"L{n}" for n in range(119, 69, -1)]
    rows, after = queries.list_page(user=ec.alice, before=after)
    assert rows[0].list_no == "L69"
    rows, after = queries.list_page(user=ec.alice, before=after)
    assert len(rows) == 20
    assert after is None


def _queries(client, path: str, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, **headers).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_the_list_page_costs_the_same_queries_whatever_the_lists(client, ec):
    client.force_login(ec.alice)
    _lists(ec, 3)
    client.get("/ecommerce/lists/")  # warm
    few = _queries(client, "/ecommerce/lists/")
    _lists(ec, 170, start=10)
    many = _queries(client, "/ecommerce/lists/?status=released")
    assert len(few) == len(many) <= 14, many
    assert not any("COUNT(" in q.upper() or "OFFSET" in q.upper() for q in many)


def test_the_board_costs_the_same_queries_whatever_the_batches(client, ec):
    def stats(batches: int) -> None:
        DecisionStat.objects.bulk_create(
            DecisionStat(
                decided_at=timezone.now(),
                lists=10,
                released=9,
                selected=1,
                refused=0,
                latency_histogram=[10] + [0] * 14,
            )
            for _ in range(batches)
        )

    client.force_login(ec.officer)
    stats(1)
    client.get("/ecommerce/board/")  # warm
    few = _queries(client, "/ecommerce/board/", HTTP_HX_REQUEST="true")
    stats(40)
    many = _queries(client, "/ecommerce/board/", HTTP_HX_REQUEST="true")
    assert len(few) == len(many) <= 12, many


def test_the_board_counts_scans_of_closed_minutes_once(ec):
    from datetime import timedelta

    from django.core.cache import cache

    from ecommerce.models import SortingScan

    cache.clear()
    now = timezone.now()
    for minutes_ago, instruction in [
        (20, "release"),
        (10, "release"),
        (6, "inspection"),
        (0, "release"),
    ]:
        scan = SortingScan.objects.create(waybill_no="W", instruction=instruction)
        SortingScan.objects.filter(pk=scan.pk).update(
            scanned_at=now - timedelta(minutes=minutes_ago)
        )
    assert queries.board()["scans"] == {"release": 2, "inspection": 1}
    with CaptureQueriesContext(connection) as captured:
        assert queries.board()["scans"] == {"release": 2, "inspection": 1}
    # The closed minutes come from the cache: the scans are read from the last minute on.
    scans_sql = [q["sql"] for q in captured.captured_queries if "sortingscan" in q["sql"]]
    assert len(scans_sql) == 1


def test_export_pages_follow_the_next_link_keeping_the_filters(client, ec):
    _lists(ec, 30)  # imports: not on the export page
    _lists(ec, 60, export=True, start=100)
    _lists(ec, 55, export=True, status="refused", start=1000)
    client.force_login(ec.alice)
    first = client.get("/ecommerce/exports/", {"status": "refused", "destination": "us"})
    assert len(_shown(first)) == 50
    assert all(n.startswith("L10") for n in _shown(first))
    link = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1)
    assert "status=refused" in link
    assert "before=" in link
    second = client.get("/ecommerce/exports/?" + link.replace("&amp;", "&"))
    assert len(_shown(second)) == 5
    assert not set(_shown(first)) & set(_shown(second))
    assert 'rel="next"' not in second.content.decode()


def test_an_export_page_shows_a_filer_only_its_own_export_lists(client, ec):
    _lists(ec, 3, export=True)  # alice's enterprise declared them
    _lists(ec, 4, declarant=ec.other, export=True, start=100)  # bob's
    client.force_login(ec.bob)
    assert sorted(_shown(client.get("/ecommerce/exports/"))) == ["L100", "L101", "L102", "L103"]
    assert sorted(_shown(client.get("/ecommerce/exports/", {"before": 10**9}))) == [
        "L100",
        "L101",
        "L102",
        "L103",
    ]
    for user in (ec.platform_user, ec.enterprise_user, ec.officer):  # both declarants' lists
        client.force_login(user)
        assert len(_shown(client.get("/ecommerce/exports/"))) == 7


def test_the_export_page_costs_the_same_queries_whatever_the_lists(client, ec):
    client.force_login(ec.enterprise_user)
    _lists(ec, 3, export=True)
    client.get("/ecommerce/exports/")  # warm
    few = _queries(client, "/ecommerce/exports/")
    _lists(ec, 170, export=True, start=10)
    many = _queries(client, "/ecommerce/exports/?status=released")
    assert len(few) == len(many) <= 15, many
    assert not any("COUNT(" in q.upper() or "OFFSET" in q.upper() for q in many)
