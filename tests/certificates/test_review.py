"""Each rule of the automated review, passing and failing, on the service path."""

import pytest

from certificates.models import Certificate
from port.models import Organisation
from tests.certificates.factories import apply, item


def checks_of(certificate) -> dict[str, dict]:
    return {check["check"]: check for check in certificate.review}


def test_a_clean_application_passes_every_check_and_is_issued(demo):
    certificate = apply(demo.exporter)

    assert certificate.status == Certificate.Status.ISSUED
    assert [c["check"] for c in certificate.review] == [
        "complete",
        "exporter",
        "commodity_codes",
        "importing_country",
        "origin_criteria",
        "regional_value_content",
        "tariff_shift",
    ]
    assert all(c["passed"] is True for c in certificate.review)


@pytest.mark.parametrize(
    ("overrides", "check", "message"),
    [
        (
            {"vessel_name": "", "port_of_discharge": ""},
            "complete",
            "Missing: vessel, port of discharge.",
        ),
        (
            {"importing_country": "CN"},
            "importing_country",
            "China cannot be the importing country of a Chinese certificate.",
        ),
        (
            {"importing_country": "US"},
            "importing_country",
            "US is not a party to ACFTA.",
        ),
        (
            {"agreement": "ACFTA", "importing_country": "JP"},
            "importing_country",
            "JP is not a party to ACFTA.",
        ),
        (
            {"items": [item(origin_criterion="CTC", non_originating_inputs=["252910"])]},
            "origin_criteria",
            "Item 1: ACFTA does not accept the criterion CTC.",
        ),
        (
            {
                "agreement": "RCEP",
                "items": [item(origin_criterion="CTH", non_originating_inputs=["252910"])],
            },
            "origin_criteria",
            "Item 1: RCEP does not accept the criterion CTH.",
        ),
        (
            {"items": [item(origin_criterion="RVC", rvc_percent="35")]},
            "regional_value_content",
            "Item 1: RVC 35% is below the 40% threshold.",
        ),
        (
            {"items": [item(origin_criterion="RVC", rvc_percent="55", fob_value="")]},
            "regional_value_content",
            "Item 1: an RVC claim needs the FOB value.",
        ),
        (
            {"items": [item(origin_criterion="CTH")]},
            "tariff_shift",
            "Item 1: a CTH claim must list its non-originating inputs.",
        ),
        (
            {"items": [item(origin_criterion="CTH", non_originating_inputs=["252910", "690722"])]},
            "tariff_shift",
            "Item 1: inputs 690722 share the first 4 digits of 6907, so no CTH change happens.",
        ),
        (
            {
                "agreement": "RCEP",
                "importing_country": "JP",
                "items": [item(origin_criterion="CTC", non_originating_inputs=["691110"])],
            },
            "tariff_shift",
            "Item 1: inputs 691110 share the first 2 digits of 69, so no CTC change happens.",
        ),
    ],
)
def test_a_failed_rule_sends_the_application_to_review_with_its_reason(
    demo, overrides, check, message
):
    certificate = apply(demo.exporter, **overrides)

    assert certificate.status == Certificate.Status.UNDER_REVIEW
    assert certificate.number is None
    failed = {c["check"]: c["message"] for c in certificate.review if not c["passed"]}
    assert failed == {check: message}


@pytest.mark.parametrize("rating", ["lower", "dishonest"])
def test_an_exporter_with_low_credit_goes_to_review(demo, rating):
    Organisation.objects.filter(pk=demo.exporter_org.pk).update(credit_rating=rating)

    certificate = apply(demo.exporter)

    assert certificate.status == Certificate.Status.UNDER_REVIEW
    assert checks_of(certificate)["exporter"]["passed"] is False


@pytest.mark.parametrize("rating", ["certified", "general"])
def test_certified_and_general_credit_exporters_pass(demo, rating):
    Organisation.objects.filter(pk=demo.exporter_org.pk).update(credit_rating=rating)

    certificate = apply(demo.exporter)

    assert checks_of(certificate)["exporter"]["passed"] is True


def test_tariff_shift_passes_when_every_input_changes_heading(demo):
    certificate = apply(
        demo.exporter,
        items=[item(origin_criterion="CTH", non_originating_inputs=["252910", "250700"])],
    )

    assert certificate.status == Certificate.Status.ISSUED


def test_rvc_at_the_threshold_passes(demo):
    certificate = apply(demo.exporter, items=[item(origin_criterion="RVC", rvc_percent="40")])

    assert certificate.status == Certificate.Status.ISSUED


def test_rcep_to_japan_passes_with_a_chapter_change(demo):
    certificate = apply(
        demo.exporter,
        agreement="RCEP",
        importing_country="JP",
        items=[item(origin_criterion="CTC", non_originating_inputs=["252910"])],
    )

    assert certificate.status == Certificate.Status.ISSUED
    assert certificate.number.startswith("R26")


def test_commodity_code_rule_flags_a_code_not_in_hs(demo):
    from certificates import review
    from certificates.models import CertificateItem

    certificate = apply(demo.exporter)
    bad = CertificateItem(
        line_number=1, hs_code="1234560000", description="x", packages=1, quantity=1
    )

    check = review.check_commodity_codes(certificate, [bad])

    assert check == {
        "check": "commodity_codes",
        "passed": False,
        "message": "Item 1: 123456 is not an HS 2022 subheading.",
    }


def test_every_reason_is_kept_in_each_language_and_shown_in_the_readers(demo, client):
    certificate = apply(demo.exporter, importing_country="US")  # reviewed in English
    client.force_login(demo.officer)

    english = client.get(f"/certificates/{certificate.pk}/").content.decode()
    chinese = client.get(
        f"/certificates/{certificate.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    queue = client.get("/certificates/reviews/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    country = checks_of(certificate)["importing_country"]
    assert country["message"] == "US is not a party to ACFTA."
    assert country["messages"] == {
        "en": "US is not a party to ACFTA.",
        "zh-hans": "US 不是 ACFTA 的缔约方。",
    }
    assert "US is not a party to ACFTA." in english
    assert "US 不是 ACFTA 的缔约方。" in chinese
    assert "US 不是 ACFTA 的缔约方。" in queue
    assert "US is not a party to ACFTA." not in chinese + queue
