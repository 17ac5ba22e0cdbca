"""Certificates go to one customs office of the exporter's port; only its officers see them."""

import pytest

from certificates import mailings, queries, services
from certificates.models import Certificate, Mailing
from port.errors import InvalidInput, NotYours
from port.models import Membership, Organisation, Port, TimelineEvent, User
from tests.certificates.factories import application_body, application_input, apply

URL = "/api/v1/certificates/"


@pytest.fixture
def xiangyu(demo):
    """The officer of the port's second customs office (seed_demo's `xiangyu`)."""
    return User.objects.get(username="xiangyu")


@pytest.fixture
def xiangyu_office(demo):
    return Organisation.objects.get(office_code="3703")


def events_of(certificate) -> list[str]:
    return list(
        TimelineEvent.objects.filter(subject_id=certificate.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_an_application_goes_to_the_first_office_of_the_exporters_port_by_default(demo):
    certificate = apply(demo.exporter)

    assert certificate.issuing_office == demo.customs
    assert demo.customs.office_code == "3701"


def test_the_exporter_may_choose_another_office_of_its_port(demo, xiangyu_office):
    certificate = apply(demo.exporter, issuing_office="3703")

    certificate.refresh_from_db()
    assert certificate.issuing_office == xiangyu_office
    assert certificate.status == Certificate.Status.ISSUED


def test_an_office_of_another_port_is_refused_and_nothing_is_written(demo):
    fuzhou = Port.objects.create(unlocode="CNFOC", name="Fuzhou")
    Organisation.objects.create(
        name="Fuzhou Customs",
        kind=Organisation.Kind.CUSTOMS_OFFICE,
        port=fuzhou,
        office_code="3501",
    )

    with pytest.raises(InvalidInput) as error:
        apply(demo.exporter, issuing_office="3501", importing_country="ZZ")

    assert error.value.errors["issuing_office"] == [
        "Choose an issuing office of your port: 3701 (Xiamen Customs, Haicang Office), "
        "3703 (Xiamen Customs, Xiangyu Office)."
    ]
    assert "importing_country" in error.value.errors  # every error at once
    assert Certificate.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


def test_an_exporter_whose_port_has_no_office_cannot_apply(demo):
    Organisation.objects.filter(pk=demo.exporter_org.pk).update(port=None)

    with pytest.raises(InvalidInput) as error:
        apply(demo.exporter)

    assert error.value.errors == {
        "issuing_office": ["No customs office of your port issues certificates of origin."]
    }
    assert Certificate.objects.exists() is False


def test_each_office_lists_and_queues_only_its_own(demo, xiangyu):
    haicang_review = apply(demo.exporter, importing_country="US")
    xiangyu_review = apply(demo.exporter, importing_country="US", issuing_office="3703")
    xiangyu_issued = apply(demo.exporter, issuing_office="3703")

    assert list(queries.certificate_list(user=demo.officer)) == [haicang_review]
    assert list(queries.certificate_review_queue(user=demo.officer)) == [haicang_review]
    assert set(queries.certificate_list(user=xiangyu)) == {xiangyu_review, xiangyu_issued}
    assert list(queries.certificate_review_queue(user=xiangyu)) == [xiangyu_review]
    # The exporter sees all three, whichever office they went to.
    assert queries.certificate_list(user=demo.exporter).count() == 3


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        (services.certificate_approve, {"note": "ok"}),
        (services.certificate_reject, {"reason": "not a party"}),
    ],
)
def test_an_officer_of_another_office_cannot_decide_and_nothing_changes(
    demo, xiangyu, action, kwargs
):
    certificate = apply(demo.exporter, importing_country="US")
    before = events_of(certificate)

    with pytest.raises(NotYours):
        action(certificate_id=certificate.pk, officer=xiangyu, **kwargs)

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.UNDER_REVIEW
    assert certificate.decision_note == ""
    assert events_of(certificate) == before


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        (services.certificate_revoke, {"reason": "forged"}),
        (services.certificate_replace, {"reason": "typo"}),
    ],
)
def test_an_officer_of_another_office_cannot_revoke_or_replace(demo, xiangyu, action, kwargs):
    certificate = apply(demo.exporter)
    before = events_of(certificate)

    with pytest.raises(NotYours):
        action(certificate_id=certificate.pk, officer=xiangyu, **kwargs)

    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.ISSUED
    assert Certificate.objects.count() == 1  # no replacement
    assert events_of(certificate) == before


def test_only_the_issuing_office_places_the_paper_in_a_locker(demo, xiangyu):
    certificate = apply(demo.exporter, issuing_office="3703")
    mailing = mailings.mailing_request(
        user=demo.exporter, certificate_id=certificate.pk, recipient="A", address="B", phone="1"
    )

    assert list(queries.mailing_queue(user=demo.officer)) == []
    assert list(queries.mailing_queue(user=xiangyu)) == [certificate]
    with pytest.raises(NotYours):
        mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=demo.officer, locker="L-1")
    mailing.refresh_from_db()
    assert (mailing.status, mailing.pickup_code) == (Mailing.Status.REQUESTED, "")

    mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=xiangyu, locker="L-1")

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.IN_LOCKER


def test_pages_of_another_offices_certificate_are_404_and_refuse_every_action(
    demo, client, xiangyu
):
    under_review = apply(demo.exporter, importing_country="US")
    issued = apply(demo.exporter)
    mailings.mailing_request(
        user=demo.exporter, certificate_id=issued.pk, recipient="A", address="B", phone="1"
    )
    before = TimelineEvent.objects.count()
    client.force_login(xiangyu)

    listing = client.get("/certificates/").content.decode()
    reviews = client.get("/certificates/reviews/").content.decode()

    assert issued.number not in listing
    assert f'href="/certificates/{under_review.pk}/"' not in listing + reviews
    assert f'href="/certificates/{issued.pk}/#mailing"' not in reviews
    for certificate in (under_review, issued):
        assert client.get(f"/certificates/{certificate.pk}/").status_code == 404
    assert client.get(f"/certificates/{issued.pk}/pdf/").status_code == 404
    for certificate, action, data in [
        (under_review, "approve", {"note": ""}),
        (under_review, "reject", {"reason": "no"}),
        (issued, "revoke", {"reason": "no"}),
        (issued, "replace", {"reason": "no"}),
        (issued, "locker", {"locker": "L-1"}),
    ]:
        response = client.post(f"/certificates/{certificate.pk}/{action}/", data)
        assert response.status_code == 404, action
    under_review.refresh_from_db()
    issued.refresh_from_db()
    assert (under_review.status, issued.status) == ("under_review", "issued")
    assert Mailing.objects.get().status == Mailing.Status.REQUESTED
    assert TimelineEvent.objects.count() == before


def test_the_api_hides_another_offices_certificate_and_refuses_every_action(demo, api_for, xiangyu):
    under_review = apply(demo.exporter, importing_country="US")
    issued = apply(demo.exporter)
    mailings.mailing_request(
        user=demo.exporter, certificate_id=issued.pk, recipient="A", address="B", phone="1"
    )
    before = TimelineEvent.objects.count()
    client = api_for(xiangyu)

    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}?number={issued.number}").json()["results"] == []
    for certificate in (under_review, issued):
        assert client.get(f"{URL}{certificate.pk}/").status_code == 404
    for certificate, action, data in [
        (under_review, "approve", {"note": ""}),
        (under_review, "reject", {"reason": "no"}),
        (issued, "revoke", {"reason": "no"}),
        (issued, "replace", {"reason": "no"}),
        (issued, "mailing/locker", {"locker": "L-1"}),
    ]:
        response = client.post(f"{URL}{certificate.pk}/{action}/", data, format="json")
        assert response.status_code == 404, action
    under_review.refresh_from_db()
    issued.refresh_from_db()
    assert (under_review.status, issued.status) == ("under_review", "issued")
    assert TimelineEvent.objects.count() == before


def test_the_own_offices_officer_acts_through_the_api(demo, api_for, xiangyu):
    certificate = apply(demo.exporter, importing_country="US", issuing_office="3703")

    response = api_for(xiangyu).post(f"{URL}{certificate.pk}/approve/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "issued"
    assert response.json()["issuing_office"] == "3703"
    assert response.json()["issuing_office_name"] == "Xiamen Customs, Xiangyu Office"


def test_the_api_takes_the_office_code_and_names_a_bad_one(demo, api_for):
    client = api_for(demo.exporter)

    chosen = client.post(URL, application_body(issuing_office="3703"), format="json")
    default = client.post(URL, application_body(), format="json")
    bad = client.post(URL, application_body(issuing_office="9999"), format="json")

    assert chosen.status_code == default.status_code == 201
    assert (chosen.json()["issuing_office"], default.json()["issuing_office"]) == ("3703", "3701")
    assert bad.status_code == 400
    assert list(bad.json()) == ["issuing_office"]
    assert Certificate.objects.count() == 2


def test_the_form_offers_the_ports_offices_and_routes_the_choice(demo, client, xiangyu_office):
    from tests.certificates.test_views import form_data

    client.force_login(demo.exporter)

    page = client.get("/certificates/new/").content.decode()
    response = client.post("/certificates/new/", form_data(issuing_office="3703"))

    assert '<option value="3701">3701 Xiamen Customs, Haicang Office</option>' in page
    assert '<option value="3703">3703 Xiamen Customs, Xiangyu Office</option>' in page
    assert response.status_code == 302
    assert Certificate.objects.get().issuing_office == xiangyu_office


def test_public_verification_is_the_same_for_any_office(demo, client, xiangyu):
    certificate = apply(demo.exporter, issuing_office="3703")

    response = client.get(
        "/verify/", {"number": certificate.number, "code": certificate.verification_code}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="issued"' in page
    assert "Issued by Xiamen Customs, Xiangyu Office, valid until" in page


def test_a_second_membership_adds_the_offices_certificates(demo, xiangyu):
    certificate = apply(demo.exporter)
    Membership.objects.create(user=xiangyu, organisation=demo.customs, role=Membership.Role.OFFICER)

    services.certificate_revoke(certificate_id=certificate.pk, officer=xiangyu, reason="forged")

    assert list(queries.certificate_list(user=xiangyu)) == [certificate]


def _returned(demo, fields):
    certificate = apply(demo.exporter, importing_country="US")  # not a party: under review
    return services.certificate_request_correction(
        certificate_id=certificate.pk, officer=demo.officer, note="Box 4", fields=fields
    )


def test_a_resubmission_stays_with_the_office_that_returned_it(demo):
    returned = _returned(demo, ["importing_country"])

    with pytest.raises(InvalidInput) as refused:
        services.certificate_resubmit(
            certificate_id=returned.pk,
            user=demo.exporter,
            application=application_input(importing_country="VN", issuing_office="3703"),
        )

    assert refused.value.errors == {
        "issuing_office": [
            f"The office that returned the application reviews it again: {demo.customs.name}."
        ]
    }
    returned.refresh_from_db()
    assert (returned.status, returned.issuing_office) == ("correction_requested", demo.customs)


def test_a_resubmission_may_change_the_office_when_the_officer_named_it(demo, xiangyu_office):
    returned = _returned(demo, ["issuing_office"])

    certificate = services.certificate_resubmit(
        certificate_id=returned.pk,
        user=demo.exporter,
        application=application_input(importing_country="US", issuing_office="3703"),
    )

    certificate.refresh_from_db()
    assert (certificate.status, certificate.issuing_office) == ("under_review", xiangyu_office)
