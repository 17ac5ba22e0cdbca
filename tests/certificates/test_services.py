import re

import pytest
from django.core.exceptions import PermissionDenied

from certificates import events, mailings, queries, services
from certificates.models import Certificate, CertificateItem, Mailing
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import TimelineEvent, User
from tests.certificates.factories import application_input, apply, item


@pytest.fixture
def issued(demo):
    return apply(demo.exporter)


@pytest.fixture
def under_review(demo):
    return apply(demo.exporter, importing_country="US")


def status_events(certificate) -> list[tuple]:
    return [
        (e.data["from"], e.data["to"])
        for e in TimelineEvent.objects.filter(
            kind="certificate.status_changed", subject_id=certificate.pk
        ).order_by("id")
    ]


def test_issue_assigns_number_code_validity_and_timeline(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        certificate = apply(demo.exporter)

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.ISSUED
    assert re.fullmatch(r"E26\d{9}", certificate.number)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", certificate.verification_code)
    assert certificate.valid_until.year == certificate.issued_at.year + 1
    assert certificate.exporter == demo.exporter_org
    assert CertificateItem.objects.get(certificate=certificate).hs_code == "6907210000"
    kinds = list(TimelineEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["certificate.applied", "certificate.status_changed"]
    assert status_events(certificate) == [("submitted", "issued")]
    assert len(callbacks) == 1  # the live push to the exporter, nothing before commit


def test_certificate_event_schema(demo):
    certificate = apply(demo.exporter)

    event = events.certificate_status_changed(certificate)

    assert set(event) == set(events.CertificateStatusChanged.__annotations__)
    assert event["type"] == "certificate.status_changed"
    assert event["status"] == "issued"
    assert events.certificate_groups(certificate) == [f"org.{demo.exporter_org.pk}"]


def test_numbers_are_unique_and_codes_differ(demo):
    first, second = apply(demo.exporter), apply(demo.exporter)

    assert first.number != second.number
    assert int(second.number[3:]) == int(first.number[3:]) + 1
    assert first.verification_code != second.verification_code


def test_bad_input_reports_every_field_and_writes_nothing(demo):
    with pytest.raises(InvalidInput) as refused:
        apply(
            demo.exporter,
            agreement="NAFTA",
            importing_country="XX",
            invoice_date="15/11/2026",
            port_of_discharge="SAIGON",
            items=[item(hs_code="69072", packages="0", origin_criterion="ZZ", rvc_percent="x")],
        )

    errors = refused.value.errors
    assert errors["agreement"] == ["Choose an agreement: ACFTA, RCEP."]
    assert errors["importing_country"] == ["XX is not an ISO 3166 country code."]
    assert errors["invoice_date"] == ["Enter the invoice date as YYYY-MM-DD."]
    assert errors["port_of_discharge"] == [
        "SAIGON is not a UN/LOCODE (country code and three characters)."
    ]
    assert set(errors["items"]["0"]) == {"hs_code", "packages", "origin_criterion", "rvc_percent"}
    assert errors["items"]["0"]["hs_code"] == ["A commodity code has exactly 10 digits."]
    assert Certificate.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


def test_an_rvc_claim_without_percentage_is_refused(demo):
    with pytest.raises(InvalidInput) as refused:
        apply(demo.exporter, items=[item(origin_criterion="RVC", rvc_percent="")])

    assert refused.value.errors == {
        "items": {"0": {"rvc_percent": ["An RVC claim states its percentage."]}}
    }


def test_only_enterprises_apply(demo):
    with pytest.raises(InvalidInput) as refused:
        apply(demo.officer)

    assert refused.value.errors == {
        "exporter": ["Only enterprises apply for certificates of origin."]
    }


def test_the_same_idempotency_key_returns_the_first_application(demo):
    first = apply(demo.exporter, idempotency_key="k-1")
    second = apply(demo.exporter, idempotency_key="k-1")

    assert first.pk == second.pk
    assert Certificate.objects.count() == 1


def test_officer_approves_an_application_under_review(demo, under_review):
    certificate = services.certificate_approve(
        certificate_id=under_review.pk, officer=demo.officer, note="US importer, checked"
    )

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.ISSUED
    assert certificate.number.startswith("E26")
    assert status_events(certificate) == [("submitted", "under_review"), ("under_review", "issued")]
    event = TimelineEvent.objects.filter(kind="certificate.status_changed").last()
    assert event.actor == demo.officer


def test_officer_rejects_with_a_reason(demo, under_review):
    services.certificate_reject(
        certificate_id=under_review.pk, officer=demo.officer, reason="Not a party"
    )

    under_review.refresh_from_db()
    assert under_review.status == Certificate.Status.REJECTED
    assert under_review.decision_note == "Not a party"
    assert under_review.number is None
    event = TimelineEvent.objects.filter(kind="certificate.status_changed").last()
    assert event.data == {"from": "under_review", "to": "rejected", "reason": "Not a party"}


def test_reject_without_reason_changes_nothing(demo, under_review):
    before = TimelineEvent.objects.count()

    with pytest.raises(InvalidInput):
        services.certificate_reject(
            certificate_id=under_review.pk, officer=demo.officer, reason=" "
        )

    under_review.refresh_from_db()
    assert under_review.status == Certificate.Status.UNDER_REVIEW
    assert TimelineEvent.objects.count() == before


@pytest.mark.parametrize(
    "action",
    [
        lambda c, o: services.certificate_approve(certificate_id=c.pk, officer=o),
        lambda c, o: services.certificate_reject(certificate_id=c.pk, officer=o, reason="r"),
    ],
)
def test_approve_and_reject_refuse_an_issued_certificate_and_change_nothing(demo, issued, action):
    number, before = issued.number, TimelineEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        action(issued, demo.officer)

    issued.refresh_from_db()
    assert (issued.status, issued.number) == (Certificate.Status.ISSUED, number)
    assert TimelineEvent.objects.count() == before


def test_revoke_refuses_an_application_under_review_and_changes_nothing(demo, under_review):
    before = TimelineEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        services.certificate_revoke(
            certificate_id=under_review.pk, officer=demo.officer, reason="r"
        )

    under_review.refresh_from_db()
    assert under_review.status == Certificate.Status.UNDER_REVIEW
    assert under_review.decision_note == ""
    assert TimelineEvent.objects.count() == before


def test_an_exporter_cannot_approve_its_own_application(demo, under_review):
    with pytest.raises(PermissionDenied):
        services.certificate_approve(certificate_id=under_review.pk, officer=demo.exporter)

    under_review.refresh_from_db()
    assert under_review.status == Certificate.Status.UNDER_REVIEW


def test_revoked_certificate_verifies_as_revoked(demo, issued):
    services.certificate_revoke(certificate_id=issued.pk, officer=demo.officer, reason="Fraud")

    found = queries.certificate_verify(number=issued.number, code=issued.verification_code)
    assert found.status == Certificate.Status.REVOKED
    assert status_events(issued) == [("submitted", "issued"), ("issued", "revoked")]


def test_replacement_issues_a_new_certificate_pointing_to_the_old(demo, issued):
    new = services.certificate_replace(
        certificate_id=issued.pk,
        officer=demo.officer,
        reason="Importer name misspelt",
        corrections={"importer_name": "Saigon Home Materials Joint Stock Company"},
    )

    issued.refresh_from_db()
    assert issued.status == Certificate.Status.REPLACED
    assert new.status == Certificate.Status.ISSUED
    assert new.replaces == issued
    assert new.number != issued.number
    assert new.importer_name == "Saigon Home Materials Joint Stock Company"
    assert list(new.items.values_list("hs_code", flat=True)) == ["6907210000"]
    assert status_events(new) == [("submitted", "issued")]
    assert status_events(issued)[-1] == ("issued", "replaced")


def test_a_replaced_certificate_cannot_be_replaced_again(demo, issued):
    services.certificate_replace(certificate_id=issued.pk, officer=demo.officer, reason="typo")
    before = (Certificate.objects.count(), TimelineEvent.objects.count())

    with pytest.raises(TransitionNotAllowed):
        services.certificate_replace(certificate_id=issued.pk, officer=demo.officer, reason="x")

    assert (Certificate.objects.count(), TimelineEvent.objects.count()) == before


def test_verify_finds_only_the_certificate_with_number_and_code(demo, issued):
    other = apply(demo.exporter)

    found = queries.certificate_verify(number=issued.number, code=issued.verification_code)

    assert found == issued
    assert queries.certificate_verify(number=issued.number, code=other.verification_code) is None
    assert queries.certificate_verify(number="E26999999999", code=issued.verification_code) is None
    assert queries.certificate_verify(number="", code="") is None


def test_exporter_lists_only_its_own_certificates(demo, issued):
    assert list(queries.certificate_list(user=demo.exporter)) == [issued]
    assert list(queries.certificate_list(user=demo.importer)) == []
    assert list(queries.certificate_list(user=demo.officer)) == [issued]


def test_mailing_flow_from_request_to_delivery(demo, issued):
    mailing = mailings.mailing_request(
        user=demo.exporter,
        certificate_id=issued.pk,
        recipient="Nguyen Van A",
        address="12 Nguyen Hue, HCMC",
        phone="+84 28 1234 5678",
    )
    assert mailing.status == Mailing.Status.REQUESTED

    mailing = mailings.mailing_place_in_locker(
        mailing_id=mailing.pk, officer=demo.officer, locker="L-07"
    )
    assert mailing.status == Mailing.Status.IN_LOCKER
    assert re.fullmatch(r"\d{6}", mailing.pickup_code)

    seen = []
    for _ in range(3):
        mailing = mailings.mailing_advance(mailing_id=mailing.pk)
        seen.append(mailing.status)

    assert seen == ["collected", "in_transit", "delivered"]
    assert mailing.tracking_number.startswith("SIM")
    changes = [
        (e.data["from"], e.data["to"])
        for e in TimelineEvent.objects.filter(kind="certificate.mailing_changed").order_by("id")
    ]
    assert changes == [
        ("", "requested"),
        ("requested", "in_locker"),
        ("in_locker", "collected"),
        ("collected", "in_transit"),
        ("in_transit", "delivered"),
    ]
    before = TimelineEvent.objects.count()
    mailings.mailing_advance(mailing_id=mailing.pk)  # a stray task after delivery
    assert TimelineEvent.objects.count() == before


def test_mailing_is_refused_for_a_certificate_not_issued(demo, under_review):
    with pytest.raises(InvalidInput) as refused:
        mailings.mailing_request(
            user=demo.exporter,
            certificate_id=under_review.pk,
            recipient="A",
            address="B",
            phone="1",
        )

    assert refused.value.errors == {"certificate": ["Only an issued certificate can be mailed."]}
    assert Mailing.objects.exists() is False


def test_another_enterprise_cannot_request_mailing(demo, issued):
    with pytest.raises(PermissionDenied):
        mailings.mailing_request(
            user=demo.importer, certificate_id=issued.pk, recipient="A", address="B", phone="1"
        )

    assert Mailing.objects.exists() is False


def test_placing_in_locker_twice_is_refused_and_keeps_the_code(demo, issued):
    mailing = mailings.mailing_request(
        user=demo.exporter, certificate_id=issued.pk, recipient="A", address="B", phone="1"
    )
    mailing = mailings.mailing_place_in_locker(
        mailing_id=mailing.pk, officer=demo.officer, locker="L1"
    )
    code, before = mailing.pickup_code, TimelineEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=demo.officer, locker="L2")

    mailing.refresh_from_db()
    assert (mailing.pickup_code, mailing.locker) == (code, "L1")
    assert TimelineEvent.objects.count() == before


def test_a_revoked_certificate_is_not_placed_in_a_locker(demo, issued):
    mailing = mailings.mailing_request(
        user=demo.exporter, certificate_id=issued.pk, recipient="A", address="B", phone="1"
    )
    services.certificate_revoke(certificate_id=issued.pk, officer=demo.officer, reason="Fraud")

    with pytest.raises(InvalidInput):
        mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=demo.officer, locker="L1")

    mailing.refresh_from_db()
    assert (mailing.status, mailing.pickup_code) == (Mailing.Status.REQUESTED, "")


@pytest.fixture
def returned(under_review, demo):
    return services.certificate_request_correction(
        certificate_id=under_review.pk,
        officer=demo.officer,
        note="Box 4: the importing country is not a party.",
        fields=["importing_country", "items"],
    )


def snapshot(certificate) -> tuple:
    certificate.refresh_from_db()
    items = list(certificate.items.values_list("line_number", "hs_code", "description"))
    return (
        certificate.status,
        certificate.importing_country,
        certificate.importer_name,
        certificate.decision_note,
        certificate.correction_fields,
        items,
        TimelineEvent.objects.count(),
    )


def test_request_correction_writes_note_boxes_timeline_and_live_push(
    under_review, demo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.certificate_request_correction(
            certificate_id=under_review.pk,
            officer=demo.officer,
            note="  Box 4: the importing country is not a party.  ",
            fields=["items", "importing_country"],
        )

    under_review.refresh_from_db()
    assert under_review.status == Certificate.Status.CORRECTION_REQUESTED
    assert under_review.decision_note == "Box 4: the importing country is not a party."
    assert under_review.correction_fields == ["importing_country", "items"]  # in box order
    assert under_review.correction_field_labels == ["Importing country", "Goods"]
    event = TimelineEvent.objects.filter(kind="certificate.status_changed").latest("id")
    assert event.actor == demo.officer
    assert event.data == {
        "from": "under_review",
        "to": "correction_requested",
        "note": "Box 4: the importing country is not a party.",
        "fields": ["importing_country", "items"],
    }
    assert len(callbacks) == 1  # the live push to the exporter, after commit


def test_request_correction_is_allowed_from_submitted(demo):
    certificate = apply(demo.exporter, importing_country="US")
    Certificate.objects.filter(pk=certificate.pk).update(status="submitted")

    services.certificate_request_correction(
        certificate_id=certificate.pk, officer=demo.officer, note="Box 4"
    )

    certificate.refresh_from_db()
    assert (certificate.status, certificate.correction_fields) == ("correction_requested", [])


@pytest.mark.parametrize(
    ("note", "fields", "errors"),
    [
        ("  ", [], {"note": ["Tell the exporter what to correct."]}),
        ("Box 4", ["colour"], {"fields": ["No such box: colour."]}),
    ],
)
def test_request_correction_refuses_bad_input_and_changes_nothing(
    under_review, demo, note, fields, errors
):
    before = snapshot(under_review)

    with pytest.raises(InvalidInput) as refused:
        services.certificate_request_correction(
            certificate_id=under_review.pk, officer=demo.officer, note=note, fields=fields
        )

    assert refused.value.errors == errors
    assert snapshot(under_review) == before


def test_request_correction_by_another_office_is_not_yours_and_changes_nothing(under_review):
    xiangyu = User.objects.get(username="xiangyu")
    before = snapshot(under_review)

    with pytest.raises(NotYours):
        services.certificate_request_correction(
            certificate_id=under_review.pk, officer=xiangyu, note="Box 4"
        )

    assert snapshot(under_review) == before


def test_request_correction_by_the_exporter_is_refused(under_review, demo):
    before = snapshot(under_review)

    with pytest.raises(PermissionDenied):
        services.certificate_request_correction(
            certificate_id=under_review.pk, officer=demo.exporter, note="Box 4"
        )

    assert snapshot(under_review) == before


@pytest.mark.parametrize("final", ["issued", "rejected"])
def test_request_correction_refuses_a_decided_certificate(demo, final):
    certificate = apply(demo.exporter, importing_country="US" if final == "rejected" else "VN")
    if final == "rejected":
        services.certificate_reject(certificate_id=certificate.pk, officer=demo.officer, reason="x")
    before = snapshot(certificate)

    with pytest.raises(TransitionNotAllowed):
        services.certificate_request_correction(
            certificate_id=certificate.pk, officer=demo.officer, note="Box 4"
        )

    assert snapshot(certificate) == before
    assert before[0] == final


def test_resubmit_replaces_the_application_and_reviews_it_again(
    returned, demo, django_capture_on_commit_callbacks
):
    corrected = application_input(
        importing_country="VN", items=[item(description="Glazed wall tiles"), item()]
    )

    with django_capture_on_commit_callbacks() as callbacks:
        certificate = services.certificate_resubmit(
            certificate_id=returned.pk, user=demo.exporter, application=corrected
        )

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.ISSUED
    assert (certificate.importing_country, certificate.decision_note) == ("VN", "")
    assert certificate.correction_fields == []
    assert list(certificate.items.values_list("line_number", "description")) == [
        (1, "Glazed wall tiles"),
        (2, "Glazed ceramic floor tiles"),
    ]
    assert status_events(certificate) == [
        ("submitted", "under_review"),
        ("under_review", "correction_requested"),
        ("correction_requested", "submitted"),
        ("submitted", "issued"),
    ]
    resubmitted = TimelineEvent.objects.get(data__to="submitted")
    assert resubmitted.actor == demo.exporter
    assert len(callbacks) == 1  # one after-commit push carrying both status changes


def test_resubmit_still_failing_goes_back_under_review(returned, demo):
    certificate = services.certificate_resubmit(
        certificate_id=returned.pk,
        user=demo.exporter,
        application=application_input(importing_country="US"),
    )

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.UNDER_REVIEW
    assert [c["check"] for c in certificate.review if not c["passed"]] == ["importing_country"]


def test_resubmit_with_bad_fields_reports_each_and_changes_nothing(returned, demo):
    before = snapshot(returned)

    with pytest.raises(InvalidInput) as refused:
        services.certificate_resubmit(
            certificate_id=returned.pk,
            user=demo.exporter,
            application=application_input(
                importing_country="XX", importer_name=" ", items=[item(quantity="0")]
            ),
        )

    assert refused.value.errors == {
        "importer_name": ["This field is required."],
        "importing_country": ["XX is not an ISO 3166 country code."],
        "items": {"0": {"quantity": ["The quantity must be a number above zero."]}},
    }
    assert snapshot(returned) == before


@pytest.mark.parametrize("username", ["importer", "officer"])
def test_resubmit_by_anyone_outside_the_exporter_is_not_yours(returned, username):
    before = snapshot(returned)

    with pytest.raises(NotYours):
        services.certificate_resubmit(
            certificate_id=returned.pk,
            user=User.objects.get(username=username),
            application=application_input(),
        )

    assert snapshot(returned) == before


@pytest.mark.parametrize("final", ["under_review", "issued", "rejected"])
def test_resubmit_refuses_an_application_not_returned(demo, final):
    certificate = apply(demo.exporter, importing_country="VN" if final == "issued" else "US")
    if final == "rejected":
        services.certificate_reject(certificate_id=certificate.pk, officer=demo.officer, reason="x")
    before = snapshot(certificate)

    with pytest.raises(TransitionNotAllowed):
        services.certificate_resubmit(
            certificate_id=certificate.pk, user=demo.exporter, application=application_input()
        )

    assert snapshot(certificate) == before
    assert before[0] == final


def test_a_returned_application_may_still_be_rejected(returned, demo):
    services.certificate_reject(certificate_id=returned.pk, officer=demo.officer, reason="Never")

    returned.refresh_from_db()
    assert returned.status == Certificate.Status.REJECTED
