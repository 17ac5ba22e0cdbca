import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from pypdf import PdfReader

from certificates import services
from certificates.models import Certificate, Mailing
from port.models import User
from tests.certificates.factories import TILES, apply

NO_MATCH = "No certificate matches this number and code"


def form_data(**overrides) -> dict:
    item = {**TILES, **overrides.pop("item", {})}
    item["non_originating_inputs"] = " ".join(item["non_originating_inputs"])
    data = {
        "agreement": "ACFTA",
        "importer_name": "Saigon Home Materials JSC",
        "importer_address": "12 Nguyen Hue, District 1, Ho Chi Minh City",
        "importing_country": "VN",
        "vessel_name": "COSCO SHIPPING ARIES",
        "departure_date": "2026-11-20",
        "port_of_loading": "CNXMN",
        "port_of_discharge": "VNSGN",
        "invoice_number": "SR-2026-0815",
        "invoice_date": "2026-11-15",
        "idempotency_key": "form-1",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "99",
        **{f"items-0-{field}": value for field, value in item.items()},
    }
    data.update(overrides)
    return data


def pdf_text(content: bytes) -> str:
    """The PDF's text with line breaks as spaces: narrow boxes wrap their labels."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", " ", text)


def cjk_text(content: bytes) -> str:
    """The PDF's text without spaces; pypdf reads fpdf2's CID-keyed text with a NUL before
    each character (the ToUnicode map is right: viewers show and copy it as written)."""
    return re.sub(r"[\s\x00]+", "", pdf_text(content))


def test_applying_in_the_browser_issues_and_shows_reasons_and_preference(demo, client):
    client.force_login(demo.exporter)

    response = client.post("/certificates/new/", form_data())

    certificate = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/certificates/{certificate.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert certificate.number in page
    assert 'data-status="issued"' in page
    assert "Every commodity code exists in HS 2022." in page
    assert '<th id="total-duty-saved">180000.00</th>' in page


def test_a_double_submitted_form_applies_once(demo, client):
    client.force_login(demo.exporter)

    first = client.post("/certificates/new/", form_data())
    second = client.post("/certificates/new/", form_data())

    assert first["Location"] == second["Location"]
    assert Certificate.objects.count() == 1


def test_bad_input_shows_field_errors_and_writes_nothing(demo, client):
    client.force_login(demo.exporter)

    response = client.post(
        "/certificates/new/", form_data(importing_country="XX", item={"hs_code": "6907"})
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "XX is not an ISO 3166 country code." in page
    assert "A commodity code has exactly 10 digits." in page
    assert Certificate.objects.exists() is False


def test_another_enterprise_gets_404_on_the_page_and_the_pdf(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.importer)

    assert client.get(f"/certificates/{certificate.pk}/").status_code == 404
    assert client.get(f"/certificates/{certificate.pk}/pdf/").status_code == 404
    assert certificate.number not in client.get("/certificates/").content.decode()


def test_the_pdf_is_the_form_e_with_number_boxes_and_a_qr_code(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.exporter)

    response = client.get(f"/certificates/{certificate.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert certificate.number in text
    assert certificate.verification_code in text
    assert "FORM E" in text
    for box in (
        "1. Goods consigned from",
        "7. Number and type of packages",
        "8. Origin criterion",
        "12. Certification",
        "13.",
    ):
        assert box in text
    assert "6907210000" in text
    assert "Saigon Home Materials JSC" in text


def test_the_rcep_pdf_has_its_own_boxes(demo, client):
    certificate = apply(
        demo.exporter,
        agreement="RCEP",
        importing_country="JP",
        items=[{**TILES, "origin_criterion": "CTC", "non_originating_inputs": ["252910"]}],
    )
    client.force_login(demo.exporter)

    text = pdf_text(client.get(f"/certificates/{certificate.pk}/pdf/").content)

    assert certificate.number in text
    assert "11. RCEP country of origin" in text
    assert "9. HS code (6-digit)" in text
    assert "690721" in text


def test_an_application_under_review_has_no_pdf(demo, client):
    certificate = apply(demo.exporter, importing_country="US")
    client.force_login(demo.exporter)

    assert client.get(f"/certificates/{certificate.pk}/pdf/").status_code == 404


def test_the_qr_points_to_the_verification_page(demo, client):
    from certificates.pdf import verification_path

    certificate = apply(demo.exporter)

    query = parse_qs(urlsplit(verification_path(certificate)).query)

    assert urlsplit(verification_path(certificate)).path == "/verify/"
    assert query == {"number": [certificate.number], "code": [certificate.verification_code]}


def test_public_verification_shows_that_certificate_only(demo, client):
    certificate, other = apply(demo.exporter), apply(demo.exporter, importer_name="Hanoi Tiles Co")

    response = client.get(
        "/verify/", {"number": certificate.number, "code": certificate.verification_code}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="issued"' in page
    assert certificate.number in page
    assert "Saigon Home Materials JSC" in page
    assert other.number not in page
    assert "Hanoi Tiles Co" not in page
    assert certificate.verification_code not in page.split("<form")[0]


@pytest.mark.parametrize("wrong", ["number", "code"])
def test_a_wrong_number_or_code_gives_the_same_message(demo, client, wrong):
    certificate = apply(demo.exporter)
    query = {"number": certificate.number, "code": certificate.verification_code}
    query[wrong] = "E26999999999" if wrong == "number" else "AAAAAAAA"

    page = client.get("/verify/", query).content.decode()

    assert NO_MATCH in page
    assert certificate.importer_name not in page
    assert re.search(r"wrong (number|code)", page, re.IGNORECASE) is None


def test_verify_page_shows_revoked_and_replaced(demo, client):
    revoked, replaced = apply(demo.exporter), apply(demo.exporter)
    services.certificate_revoke(certificate_id=revoked.pk, officer=demo.officer, reason="Fraud")
    new = services.certificate_replace(
        certificate_id=replaced.pk, officer=demo.officer, reason="typo"
    )

    revoked_page = client.get(
        "/verify/", {"number": revoked.number, "code": revoked.verification_code}
    ).content.decode()
    replaced_page = client.get(
        "/verify/", {"number": replaced.number, "code": replaced.verification_code}
    ).content.decode()

    assert 'data-status="revoked"' in revoked_page
    assert 'data-status="replaced"' in replaced_page
    assert f"Replaced by certificate {new.number}." in replaced_page


def test_officer_reviews_queue_and_rejects_in_the_browser(demo, client):
    certificate = apply(demo.exporter, importing_country="US")
    client.force_login(demo.officer)

    queue = client.get("/certificates/reviews/").content.decode()
    response = client.post(
        f"/certificates/{certificate.pk}/reject/", {"reason": "US is not a party"}
    )

    assert "US is not a party to ACFTA." in queue
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.REJECTED


def test_an_exporter_cannot_open_the_review_queue(demo, client):
    client.force_login(demo.exporter)

    assert client.get("/certificates/reviews/").status_code == 403


def test_mailing_in_the_browser_shows_the_pickup_code_to_the_exporter(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.exporter)
    client.post(
        f"/certificates/{certificate.pk}/mailing/",
        {"recipient": "Nguyen Van A", "address": "12 Nguyen Hue", "phone": "+84 1"},
    )
    officer = client.__class__()
    officer.force_login(demo.officer)

    officer.post(f"/certificates/{certificate.pk}/locker/", {"locker": "L-07"})

    mailing = Mailing.objects.get()
    assert mailing.status == Mailing.Status.IN_LOCKER
    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    assert f'<dd class="mono" id="pickup-code">{mailing.pickup_code}</dd>' in page


def test_navigation_offers_certificates_by_role(demo, client):
    client.force_login(demo.exporter)
    exporter_page = client.get("/certificates/").content.decode()
    client.force_login(demo.officer)
    officer_page = client.get("/certificates/reviews/").content.decode()

    assert 'href="/certificates/"' in exporter_page
    assert 'href="/certificates/reviews/"' in officer_page


def test_a_long_certificate_stays_on_one_page(demo, client):
    lines = [{**TILES, "description": f"Tiles lot {n}"} for n in range(10)]
    certificate = apply(demo.exporter, items=lines)
    client.force_login(demo.exporter)

    reader = PdfReader(io.BytesIO(client.get(f"/certificates/{certificate.pk}/pdf/").content))

    assert len(reader.pages) == 1
    assert "Tiles lot 9" in reader.pages[0].extract_text()


def test_officer_sees_revoke_and_replace_on_an_issued_certificate(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.officer)

    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    response = client.post(f"/certificates/{certificate.pk}/revoke/", {"reason": "Forged"})

    assert f'action="/certificates/{certificate.pk}/revoke/"' in page
    assert f'action="/certificates/{certificate.pk}/replace/"' in page
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.REVOKED


def test_a_refused_action_in_the_browser_changes_nothing(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.officer)

    response = client.post(f"/certificates/{certificate.pk}/approve/", {"note": ""}, follow=True)

    assert "cannot go from issued to issued" in response.content.decode()
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.ISSUED


def test_chinese_names_print_in_a_cjk_font_not_as_question_marks(demo, client):
    certificate = apply(
        demo.exporter,
        agreement="RCEP",
        importing_country="JP",
        importer_name="大阪瓷砖贸易株式会社",
        producer="德化旭日陶瓷厂",
        items=[{**TILES, "description": "釉面陶瓷地砖 glazed tiles", "origin_criterion": "WO"}],
    )
    client.force_login(demo.exporter)

    response = client.get(f"/certificates/{certificate.pk}/pdf/")

    text = cjk_text(response.content)
    assert response.status_code == 200
    assert "德化旭日陶瓷厂" in text
    assert "大阪瓷砖贸易株式会社" in text
    assert "釉面陶瓷地砖" in text
    assert "??" not in text
    assert b"NotoSansSC" in response.content
    # Only the glyphs used are embedded, not the 8 MB font.
    assert len(response.content) < 200_000


def test_a_latin_only_certificate_embeds_no_cjk_font(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.exporter)

    content = client.get(f"/certificates/{certificate.pk}/pdf/").content

    assert b"NotoSansSC" not in content
    assert "Xiamen Customs, Haicang Office" in pdf_text(content)


def returned(demo, **fields):
    certificate = apply(demo.exporter, importing_country="US", departure_date="2026-11-20")
    return services.certificate_request_correction(
        certificate_id=certificate.pk,
        officer=demo.officer,
        note=fields.pop("note", "Box 4: the United States is not a party to ACFTA."),
        fields=fields.pop("boxes", ["importing_country", "invoice_number"]),
    )


def test_officer_returns_an_application_for_correction_in_the_browser(demo, client):
    certificate = apply(demo.exporter, importing_country="US")
    client.force_login(demo.officer)

    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    response = client.post(
        f"/certificates/{certificate.pk}/correction/",
        {"note": "Box 4: not a party.", "boxes": ["importing_country", "items"]},
    )

    assert 'id="correction-form"' in page
    assert 'name="boxes" value="invoice_date"' in page
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.CORRECTION_REQUESTED
    assert certificate.correction_fields == ["importing_country", "items"]


def test_returning_without_a_note_says_so_and_changes_nothing(demo, client):
    certificate = apply(demo.exporter, importing_country="US")
    client.force_login(demo.officer)

    response = client.post(
        f"/certificates/{certificate.pk}/correction/",
        {"note": " ", "boxes": ["items"]},
        follow=True,
    )

    assert "Tell the exporter what to correct." in response.content.decode()
    certificate.refresh_from_db()
    assert (certificate.status, certificate.correction_fields) == ("under_review", [])


def test_officers_of_other_offices_and_enterprises_cannot_return_it(demo, client):
    certificate = apply(demo.exporter, importing_country="US")

    statuses = []
    for username in ("xiangyu", "importer"):
        client.force_login(User.objects.get(username=username))
        statuses.append(
            client.post(f"/certificates/{certificate.pk}/correction/", {"note": "x"}).status_code
        )

    assert statuses == [404, 404]
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.UNDER_REVIEW


def test_the_exporter_sees_the_note_and_boxes_and_the_list_marks_it(demo, client):
    certificate = returned(demo)
    client.force_login(demo.exporter)

    page = client.get(f"/certificates/{certificate.pk}/").content.decode()
    listing = client.get("/certificates/").content.decode()

    assert "Box 4: the United States is not a party to ACFTA." in page
    assert re.search(
        r'id="correction-fields">\s*<span class="badge correction_requested">Importing country'
        r'</span><span class="badge correction_requested">Invoice number</span>',
        page,
    )
    assert f'href="/certificates/{certificate.pk}/resubmit/"' in page
    assert 'data-status="correction_requested">Returned for correction</span>' in listing
    assert f'href="/certificates/{certificate.pk}/resubmit/"' in listing


def test_the_timeline_names_each_status_in_the_readers_language(demo, client):
    certificate = returned(demo)
    client.force_login(demo.exporter)

    english = client.get(f"/certificates/{certificate.pk}/").content.decode()
    chinese = client.get(
        f"/certificates/{certificate.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    assert "Status: Returned for correction — Box 4" in english
    assert "correction_requested —" not in english
    assert "状态：退回修改" in chinese


def test_the_officer_sees_the_note_but_no_resubmit_link(demo, client):
    certificate = returned(demo)
    client.force_login(demo.officer)

    page = client.get(f"/certificates/{certificate.pk}/").content.decode()

    assert "Box 4: the United States is not a party to ACFTA." in page
    assert "/resubmit/" not in page
    assert f'action="/certificates/{certificate.pk}/reject/"' in page


def test_the_correction_form_is_the_application_filled_with_its_values(demo, client):
    certificate = returned(demo)
    client.force_login(demo.exporter)

    page = client.get(f"/certificates/{certificate.pk}/resubmit/").content.decode()

    assert "Box 4: the United States is not a party to ACFTA." in page
    assert 'name="importing_country" value="US"' in page
    assert 'name="invoice_date" value="2026-11-15"' in page
    assert 'name="departure_date" value="2026-11-20"' in page
    assert 'name="items-0-hs_code" value="6907210000"' in page
    assert 'name="items-TOTAL_FORMS" value="1"' in page
    assert 'data-formset="items"' in page


def test_correcting_and_resubmitting_in_the_browser_issues_it(demo, client):
    certificate = returned(demo)
    client.force_login(demo.exporter)

    response = client.post(
        f"/certificates/{certificate.pk}/resubmit/",
        form_data(**{"items-INITIAL_FORMS": "1", "invoice_number": "SR-2026-0815-B"}),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/certificates/{certificate.pk}/"
    certificate.refresh_from_db()
    assert (certificate.status, certificate.importing_country) == ("issued", "VN")
    assert certificate.invoice_number == "SR-2026-0815-B"
    assert Certificate.objects.count() == 1


def test_a_bad_correction_shows_field_errors_and_changes_nothing(demo, client):
    certificate = returned(demo)
    client.force_login(demo.exporter)

    response = client.post(
        f"/certificates/{certificate.pk}/resubmit/",
        form_data(importing_country="XX", item={"quantity": "0"}),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "XX is not an ISO 3166 country code." in page
    assert "The quantity must be a number above zero." in page
    certificate.refresh_from_db()
    assert (certificate.status, certificate.importing_country) == ("correction_requested", "US")


@pytest.mark.parametrize("username", ["officer", "importer"])
def test_only_the_exporter_may_open_or_post_the_correction_form(demo, client, username):
    certificate = returned(demo)
    client.force_login(User.objects.get(username=username))

    opened = client.get(f"/certificates/{certificate.pk}/resubmit/")
    posted = client.post(f"/certificates/{certificate.pk}/resubmit/", form_data())

    assert (opened.status_code, posted.status_code) == (404, 404)
    certificate.refresh_from_db()
    assert (certificate.status, certificate.importing_country) == ("correction_requested", "US")


def test_the_correction_form_of_an_application_not_returned_sends_back(demo, client):
    certificate = apply(demo.exporter)
    client.force_login(demo.exporter)

    response = client.get(f"/certificates/{certificate.pk}/resubmit/", follow=True)

    assert response.redirect_chain == [(f"/certificates/{certificate.pk}/", 302)]
    assert "This application is not waiting for a correction." in response.content.decode()
