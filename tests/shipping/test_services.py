import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Organisation, PortCall, TimelineEvent, User
from shipping import services
from shipping.models import AgencyReview, FilingPerson, VesselFiling
from tests.conftest import queued
from tests.shipping.conftest import submit
from tests.shipping.factories import CREW, DANGEROUS_GOOD, filing_input

A = AgencyReview.Status
KINDS = [
    "border_control",
    "customs_office",
    "maritime_safety",
    "port_authority",
    "terminal_operator",
]


def decide(ship, filing, kind, decision="approved", comment=""):
    review = filing.reviews.get(agency_kind=kind)
    return services.review_decide(
        review_id=review.pk, user=ship.reviewers[kind], decision=decision, comment=comment
    )


def test_filing_reaches_all_five_agencies_at_once(ship, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        filing = submit(ship, dangerous_goods=[DANGEROUS_GOOD])

    filing.refresh_from_db()
    assert filing.status == VesselFiling.Status.UNDER_REVIEW
    assert filing.version == 1
    assert sorted(filing.reviews.values_list("agency_kind", "status")) == [
        (kind, "pending") for kind in KINDS
    ]
    # The call's terminal operator reviews, not just any terminal.
    assert filing.reviews.get(agency_kind="terminal_operator").agency == ship.call.terminal.operator
    assert FilingPerson.objects.filter(filing=filing, role="crew").count() == 2
    assert filing.dangerous_goods.get().un_number == "2735"
    event = TimelineEvent.objects.get(kind="shipping.filing_submitted")
    assert event.data["agencies"] == KINDS
    assert len(callbacks) == 1  # one push to the agent and the five agencies
    ship.call.refresh_from_db()
    assert ship.call.agent == ship.agent_org


def test_filing_refuses_bad_input_field_by_field_and_writes_nothing(ship):
    bad_person = {
        "family_name": "",
        "given_names": "X",
        "nationality": "XX",
        "date_of_birth": "1990-13-01",
        "document_number": "1",
    }
    bad_good = {
        **DANGEROUS_GOOD,
        "container_number": "CBHU6411240",
        "un_number": "27",
        "imdg_class": "10",
        "packing_group": "IV",
        "gross_mass_kg": "-1",
    }
    with pytest.raises(InvalidInput) as refused:
        submit(
            ship,
            master_name=" ",
            last_port="XXX",
            crew_count=3,
            health={"deaths": "maybe"},
            passengers=[bad_person],
            dangerous_goods=[bad_good],
        )

    errors = refused.value.errors
    assert set(errors) == {
        "master_name",
        "last_port",
        "crew_count",
        "passenger_count",
        "health",
        "passengers",
        "dangerous_goods",
    }
    assert set(errors["passengers"]["0"]) == {"family_name", "nationality", "date_of_birth"}
    assert set(errors["dangerous_goods"]["0"]) == {
        "container_number",
        "un_number",
        "imdg_class",
        "packing_group",
        "gross_mass_kg",
    }
    assert "check digit" in errors["dangerous_goods"]["0"]["container_number"][0]
    assert VesselFiling.objects.exists() is False
    assert AgencyReview.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


def test_only_a_shipping_agent_files(ship):
    with pytest.raises(InvalidInput) as refused:
        services.filing_submit(
            user=ship.demo.importer,
            port_call_id=ship.call.pk,
            direction="arrival",
            filing=filing_input(),
        )
    assert "agent" in refused.value.errors
    assert VesselFiling.objects.exists() is False


def test_second_arrival_filing_for_the_same_call_is_refused(ship, filed):
    with pytest.raises(InvalidInput) as refused:
        submit(ship)
    assert "direction" in refused.value.errors
    assert VesselFiling.objects.count() == 1
    assert submit(ship, direction="departure").direction == "departure"


def test_idempotency_key_returns_the_first_filing(ship):
    first = services.filing_submit(
        user=ship.agent,
        port_call_id=ship.call.pk,
        direction="arrival",
        filing=filing_input(),
        idempotency_key="k-1",
    )
    again = services.filing_submit(
        user=ship.agent,
        port_call_id=ship.call.pk,
        direction="arrival",
        filing=filing_input(),
        idempotency_key="k-1",
    )
    assert again.pk == first.pk
    assert VesselFiling.objects.count() == 1


def test_filing_clears_when_the_last_agency_approves(ship, filed):
    for kind in KINDS[:-1]:
        decide(ship, filed, kind)
        filed.refresh_from_db()
        assert filed.status == VesselFiling.Status.UNDER_REVIEW

    decide(ship, filed, KINDS[-1])

    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.CLEARED
    assert filed.cleared_at is not None
    assert TimelineEvent.objects.filter(kind="shipping.review_decided").count() == 5
    cleared = TimelineEvent.objects.get(kind="shipping.filing_status_changed")
    assert (cleared.data["from"], cleared.data["to"]) == ("under_review", "cleared")


def test_agency_cannot_decide_another_agencys_review(ship, filed):
    review = filed.reviews.get(agency_kind="customs_office")
    with pytest.raises(PermissionDenied):
        services.review_decide(
            review_id=review.pk, user=ship.reviewers["maritime_safety"], decision="approved"
        )
    review.refresh_from_db()
    assert review.status == A.PENDING
    assert TimelineEvent.objects.filter(kind="shipping.review_decided").exists() is False


def test_correction_round_trip(ship, filed, django_capture_on_commit_callbacks):
    decide(ship, filed, "customs_office")
    with pytest.raises(InvalidInput) as refused:
        decide(ship, filed, "border_control", "correction_requested", comment="")
    assert "comment" in refused.value.errors

    decide(
        ship,
        filed,
        "border_control",
        "correction_requested",
        comment="Passport number of the chief officer is wrong.",
    )
    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.CORRECTION_REQUESTED
    # While it is back with the agent, the others cannot decide.
    with pytest.raises(TransitionNotAllowed):
        decide(ship, filed, "port_authority")

    corrected = filing_input(
        remarks="Chief officer passport corrected",
        crew=[CREW[0], {**CREW[1], "document_number": "P7788124"}],
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.filing_resubmit(user=ship.agent, filing_id=filed.pk, filing=corrected)

    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.UNDER_REVIEW
    assert filed.version == 2
    assert filed.remarks == "Chief officer passport corrected"
    assert filed.people.get(rank="Chief Officer").document_number == "P7788124"
    statuses = dict(filed.reviews.values_list("agency_kind", "status"))
    assert statuses["customs_office"] == "approved"  # an approval stands
    assert statuses["border_control"] == "pending"  # the agency that asked looks again
    # one after-commit push: review reopened, filing status, the reopened agency's frame
    assert len(callbacks) == 1
    for kind in ["border_control", "maritime_safety", "port_authority", "terminal_operator"]:
        decide(ship, filed, kind)
    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.CLEARED
    transitions = list(
        TimelineEvent.objects.filter(kind="shipping.filing_status_changed")
        .order_by("id")
        .values_list("data__to", flat=True)
    )
    assert transitions == ["correction_requested", "under_review", "cleared"]


def test_rejection_rejects_the_filing_and_stops_other_reviews(ship, filed):
    decide(ship, filed, "maritime_safety", "rejected", comment="No valid safety certificate.")
    filed.refresh_from_db()
    assert filed.status == VesselFiling.Status.REJECTED
    with pytest.raises(TransitionNotAllowed):
        decide(ship, filed, "customs_office")
    assert filed.reviews.get(agency_kind="customs_office").status == A.PENDING
    # A rejected filing may be filed again.
    assert submit(ship).status == VesselFiling.Status.UNDER_REVIEW


def test_resubmit_refuses_a_filing_under_review_and_changes_nothing(ship, filed):
    with pytest.raises(TransitionNotAllowed):
        services.filing_resubmit(
            user=ship.agent, filing_id=filed.pk, filing=filing_input(remarks="x")
        )
    filed.refresh_from_db()
    assert (filed.version, filed.remarks) == (1, "")


@pytest.mark.django_db(transaction=True)
def test_two_agencies_approving_at_the_same_instant_clear_exactly_once(ship):
    filing = submit(ship)
    for kind in KINDS[:3]:
        decide(ship, filing, kind)
    last_two = [filing.reviews.get(agency_kind=kind) for kind in KINDS[3:]]
    barrier = threading.Barrier(2)
    errors = []

    def approve(review):
        try:
            user = User.objects.get(pk=ship.reviewers[review.agency_kind].pk)
            barrier.wait(timeout=10)
            services.review_decide(review_id=review.pk, user=user, decision="approved")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(r,)) for r in last_two]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    filing.refresh_from_db()
    assert filing.status == VesselFiling.Status.CLEARED
    assert set(filing.reviews.values_list("status", flat=True)) == {"approved"}
    cleared = TimelineEvent.objects.filter(
        kind="shipping.filing_status_changed", data__to="cleared"
    )
    assert cleared.count() == 1


def test_mark_berthed_records_ata_timeline_and_schedules_hooks(
    ship, django_capture_on_commit_callbacks
):
    berth = ship.call.terminal.berths.first()
    with django_capture_on_commit_callbacks() as callbacks:
        services.port_call_mark_berthed(
            port_call_id=ship.call.pk, user=ship.reviewers["port_authority"], berth_id=berth.pk
        )

    ship.call.refresh_from_db()
    assert ship.call.status == PortCall.Status.BERTHED
    assert ship.call.berth == berth
    assert ship.call.ata is not None
    event = TimelineEvent.objects.get(kind="shipping.port_call_status_changed")
    assert (event.data["from"], event.data["to"]) == ("expected", "berthed")
    assert len(callbacks) == 1  # the live push; port_call_berthed_task is an outbox row
    assert queued() == [("shipping.tasks.port_call_berthed_task", {"port_call_id": ship.call.pk})]


def test_mark_berthed_refuses_other_agencies_and_other_terminals_berths(ship):
    with pytest.raises(PermissionDenied):
        services.port_call_mark_berthed(port_call_id=ship.call.pk, user=ship.agent)
    other_berth = (
        PortCall.objects.exclude(terminal=ship.call.terminal).first().terminal.berths.first()
    )
    with pytest.raises(InvalidInput) as refused:
        services.port_call_mark_berthed(
            port_call_id=ship.call.pk,
            user=ship.reviewers["terminal_operator"],
            berth_id=other_berth.pk,
        )
    assert "berth" in refused.value.errors
    ship.call.refresh_from_db()
    assert (ship.call.status, ship.call.ata) == ("expected", None)
    assert TimelineEvent.objects.exists() is False


def test_departure_only_after_berthing(ship):
    with pytest.raises(TransitionNotAllowed):
        services.port_call_mark_departed(
            port_call_id=ship.call.pk, user=ship.reviewers["port_authority"]
        )
    berth = ship.call.terminal.berths.first()
    services.port_call_mark_berthed(
        port_call_id=ship.call.pk, user=ship.reviewers["port_authority"], berth_id=berth.pk
    )
    services.port_call_mark_departed(
        port_call_id=ship.call.pk, user=ship.reviewers["port_authority"]
    )
    ship.call.refresh_from_db()
    assert ship.call.status == PortCall.Status.DEPARTED
    assert ship.call.atd is not None
    assert list(TimelineEvent.objects.order_by("id").values_list("data__to", flat=True)) == [
        "berthed",
        "departed",
    ]


def test_berthed_hook_runs_registered_hooks_once_berthed(ship, monkeypatch):
    seen = []
    monkeypatch.setattr(services, "BERTHED_HOOKS", [lambda port_call_id: seen.append(port_call_id)])
    services.port_call_berthed_hook(port_call_id=ship.call.pk)
    assert seen == []  # not berthed yet: a stray task does nothing
    berth = ship.call.terminal.berths.first()
    services.port_call_mark_berthed(
        port_call_id=ship.call.pk, user=ship.reviewers["port_authority"], berth_id=berth.pk
    )
    services.port_call_berthed_hook(port_call_id=ship.call.pk)
    assert seen == [ship.call.pk]


def test_an_agency_not_addressed_sees_nothing(ship, filed):
    from django.http import Http404

    from shipping import queries

    other = Organisation.objects.create(
        name="Another Maritime Office", kind=Organisation.Kind.MARITIME_SAFETY, port=ship.call.port
    )
    stranger = User.objects.create(username="stranger")
    other.memberships.create(user=stranger, role="reviewer")

    assert list(queries.filing_list(user=stranger)) == []
    with pytest.raises(Http404):
        queries.filing_get_for_user(user=stranger, filing_id=filed.pk)
    assert queries.filing_live_group(stranger, str(filed.pk)) is None
    # The addressed agency sees the filing, with its own review only; the agent sees all five.
    mine = queries.filing_get_for_user(user=ship.reviewers["maritime_safety"], filing_id=filed.pk)
    assert [r.agency_kind for r in mine.reviews.all()] == ["maritime_safety"]
    theirs = queries.filing_get_for_user(user=ship.agent, filing_id=filed.pk)
    assert [r.agency_kind for r in theirs.reviews.all()] == KINDS
