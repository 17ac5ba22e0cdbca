"""The officers' e-commerce rules page: rules added and activated, buyers watched (masked,
never echoed), and nobody else sees it."""

import pytest

from ecommerce.models import InventoryList, ListRiskRule, ListRuleSet, WatchedBuyer
from tests.ecommerce.conftest import file_parcels
from tests.ecommerce.factories import parcel

pytestmark = pytest.mark.django_db
URL = "/ecommerce/rules/"


def test_an_officer_adds_a_rule_activates_it_and_lists_are_decided_by_it(ec, client):
    client.force_login(ec.officer)
    response = client.post(
        URL,
        {
            "do": "add_rule",
            "name": "Milk powder",
            "public_reason": "Milk powder checks",
            "action": "scan",
            "sampling_rate": "1",
            "categories": ["milk powder"],
        },
    )
    assert response.status_code == 302
    rule = ListRiskRule.objects.get()
    assert (rule.categories, rule.action, rule.is_active) == (["milk powder"], "scan", True)
    assert client.post(URL, {"do": "activate"}).status_code == 302
    assert ListRuleSet.objects.get().version == 1
    file_parcels(ec, [parcel(1, hs_code="1901100000"), parcel(2)])
    statuses = dict(InventoryList.objects.values_list("list_no", "status"))
    assert statuses == {"L000000001": "selected", "L000000002": "released"}
    page = client.get(URL).content.decode()
    assert "Milk powder checks" in page
    assert "Version 1 in force" in page


def test_a_rule_without_criteria_or_with_a_bad_field_is_refused_and_nothing_is_added(ec, client):
    client.force_login(ec.officer)
    base = {"do": "add_rule", "name": "All", "public_reason": "x", "action": "manual"}
    response = client.post(URL, {**base, "sampling_rate": "1"})
    assert response.status_code == 400
    assert "at least one criterion" in response.content.decode()
    response = client.post(URL, {**base, "sampling_rate": "2", "hs_prefix": "33a"})
    assert response.status_code == 400
    assert not ListRiskRule.objects.exists()


def test_an_officer_watches_a_buyer_by_id_number_kept_masked_and_never_echoed(ec, client):
    client.force_login(ec.officer)
    buyer_id = parcel(1)["list"]["buyer_id"]
    assert client.post(URL, {"do": "watch", "id_number": buyer_id, "note": "n"}).status_code == 302
    watched = WatchedBuyer.objects.get()
    assert buyer_id not in str(watched.__dict__)
    page = client.get(URL).content.decode()
    assert watched.buyer_id_masked in page
    assert buyer_id not in page
    bad = "110105197001010012"  # wrong check digit
    response = client.post(URL, {"do": "watch", "id_number": bad})
    assert response.status_code == 400
    assert bad not in response.content.decode()
    assert WatchedBuyer.objects.count() == 1


@pytest.mark.parametrize("who", ["alice", "operator", "charlie"])
def test_only_customs_sees_or_changes_the_rules(ec, client, who):
    client.force_login(getattr(ec, who))
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"do": "activate"}).status_code == 404
    assert not ListRuleSet.objects.exists()


def test_an_officer_adds_and_retires_positive_list_entries_and_decisions_follow(ec, client):
    from ecommerce.models import PositiveListEntry
    from port.models import TimelineEvent

    client.force_login(ec.officer)
    # bad fields are named, nothing added
    bad = client.post(URL, {"do": "add_positive", "hs_prefix": "33x", "category": "", "vat": "130"})
    assert bad.status_code == 400
    errors = bad.context["positive_form"].errors
    assert set(errors) == {"hs_prefix", "category", "vat", "consumption", "trade_modes"}
    duplicate = client.post(
        URL,
        {
            "do": "add_positive",
            "hs_prefix": "3304",
            "category": "again",
            "vat": "13",
            "consumption": "0",
            "trade_modes": ["9610"],
        },
    )
    assert "hs_prefix" in duplicate.context["positive_form"].errors
    # retire cosmetics: a cosmetics list is refused from now
    cosmetics = PositiveListEntry.objects.get(hs_prefix="3304")
    assert client.post(URL, {"do": "retire_positive", "entry": cosmetics.pk}).status_code == 302
    file_parcels(ec, [parcel(1)])
    assert InventoryList.objects.get().reason == "not_on_positive_list"
    # add it back, for 1210 only: a 9610 list is refused with the mode named
    response = client.post(
        URL,
        {
            "do": "add_positive",
            "hs_prefix": "3304",
            "category": "cosmetics",
            "vat": "13",
            "consumption": "15",
            "trade_modes": ["1210"],
        },
    )
    assert response.status_code == 302
    entry = PositiveListEntry.objects.get(hs_prefix="3304", retired_at__isnull=True)
    assert (entry.vat_bp, entry.consumption_bp, entry.trade_modes) == (1300, 1500, ["1210"])
    file_parcels(ec, [parcel(2)])
    refused = InventoryList.objects.get(list_no__endswith="2")
    assert (refused.reason, refused.reason_field) == ("mode_not_allowed", "goods[0].hs_code")
    changes = TimelineEvent.objects.filter(kind="ecommerce.positive_list_changed")
    assert [e.data["change"] for e in changes.order_by("pk")] == ["retired", "added"]
    assert all(e.actor_id == ec.officer.pk for e in changes)
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200


@pytest.mark.parametrize("who", ["alice", "operator"])
def test_only_customs_changes_the_positive_list(ec, client, who):
    from ecommerce.models import PositiveListEntry

    client.force_login(getattr(ec, who))
    entry = PositiveListEntry.objects.first()
    assert client.post(URL, {"do": "retire_positive", "entry": entry.pk}).status_code == 404
    entry.refresh_from_db()
    assert entry.retired_at is None
