"""The certificate the exporter prints: laid out like the agreement's form, boxes numbered
as on the official form (standards.md 5.1 Form E, 5.2 RCEP), with a QR code to verify it."""

from urllib.parse import urlencode

import segno
from django.urls import reverse
from django.utils import timezone
from fpdf import FPDF
from pylopdf_fonts_zh_cn import sans_path

from certificates.models import Certificate
from certificates.tariffs import preference_for

MARGIN, WIDTH = 10, 190
QR_SIZE = 29
ROW_HEIGHT = 14  # one goods item per band
MAX_TABLE_HEIGHT = 112


def verification_path(certificate: Certificate) -> str:
    query = urlencode({"number": certificate.number, "code": certificate.verification_code})
    return f"{reverse('verify')}?{query}"


# Noto Sans SC (SIL Open Font License), from the PyPI package pylopdf-fonts-zh-cn: the text
# of an exporter, importer or producer named in Chinese. fpdf2 embeds only the glyphs used.
UNICODE_FONT = "NotoSansSC"


def _latin(text) -> str:
    # The core PDF fonts carry Latin-1 only; other characters would print as "?".
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


def _is_latin(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class _Form(FPDF):
    unicode_font_added = False

    def text_font(self, text: str, size: float, style: str = "") -> str:
        """Sets the font for `text` and returns the text to write: Helvetica for Latin-1
        text, as the form always was; Noto Sans SC (regular only) for anything else."""
        if _is_latin(text):
            self.set_font("Helvetica", style, size)
            return text
        if not self.unicode_font_added:  # parsed on first use only: about 0.2 s
            self.add_font(UNICODE_FONT, "", str(sans_path()))
            self.unicode_font_added = True
        self.set_font(UNICODE_FONT, "", size)
        return text

    def box(self, x, y, w, h, label: str, lines: list[str], size: float = 8, reserve=0) -> None:
        """A numbered box; `reserve` keeps that many mm on the right free (for the QR code)."""
        self.rect(x, y, w, h)
        self.set_xy(x + 1, y + 1)
        self.multi_cell(w - 2, 3, self.text_font(label, 6.5, "B"), align="L")
        self.set_x(x + 1)
        text = self.text_font("\n".join(str(line) for line in lines if line), size)
        self.multi_cell(w - 2 - reserve, size * 0.45, text, align="L")

    def qr(self, x, y, data: str, size: float) -> None:
        code = segno.make(data, error="m")
        rows = list(code.matrix_iter(border=0))
        module = size / len(rows)
        for row_index, row in enumerate(rows):
            for col_index, dark in enumerate(row):
                if dark:
                    self.rect(x + col_index * module, y + row_index * module, module, module, "F")


def render_certificate(certificate: Certificate, *, verify_url: str) -> bytes:
    pdf = _Form(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(_latin(f"{certificate.agreement.form_name} {certificate.number}"))
    pdf.add_page()
    if certificate.agreement.code == "RCEP":
        _rcep(pdf, certificate, verify_url)
    else:
        _form_e(pdf, certificate, verify_url)
    return bytes(pdf.output())


def _exporter_lines(certificate: Certificate) -> list[str]:
    exporter = certificate.exporter
    return [exporter.name, f"USCC {exporter.uscc}", "People's Republic of China"]


def _consignee_lines(certificate: Certificate) -> list[str]:
    return [certificate.importer_name, certificate.importer_address, certificate.importing_country]


def _transport_lines(certificate: Certificate) -> list[str]:
    return [
        f"Departure date: {certificate.departure_date or ''}",
        f"Vessel: {certificate.vessel_name}",
        f"Port of loading: {certificate.port_of_loading}",
        f"Port of discharge: {certificate.port_of_discharge}",
    ]


def _flags(certificate: Certificate) -> list[str]:
    def tick(flag: bool) -> str:
        return "[X]" if flag else "[ ]"

    return [
        f"{tick(certificate.retroactive)} Issued Retroactively   "
        f"{tick(certificate.back_to_back)} Movement Certificate   "
        f"[ ] Exhibition   {tick(certificate.third_party_invoicing)} Third Party Invoicing"
    ]


def _certification(pdf: _Form, certificate: Certificate, verify_url: str, x, y, w, h, box_no):
    issued = timezone.localtime(certificate.issued_at)
    office = certificate.issuing_office
    place = office.port.name if office.port_id else "China"
    pdf.box(
        x,
        y,
        w,
        h,
        f"{box_no}. Certification",
        [
            "It is hereby certified, on the basis of control carried out, that the "
            "declaration by the exporter is correct.",
            f"{place}, China, {issued:%Y-%m-%d}",
            f"Issued electronically by {office.name} (self-printed)",
            f"Valid until {certificate.valid_until}",
            f"Verify: number {certificate.number}, code {certificate.verification_code}",
        ],
        size=7,
        reserve=QR_SIZE + 2,
    )
    pdf.qr(x + w - QR_SIZE - 2, y + h - QR_SIZE - 2, verify_url, QR_SIZE)


def _item_rows(certificate: Certificate) -> list[tuple]:
    preference = {
        p.line_number: p for p in preference_for(certificate, certificate.items.all()).items
    }
    rows = []
    for item in certificate.items.all():
        criterion = item.origin_criterion
        if criterion == "RVC" and item.rvc_percent is not None:
            criterion = f"RVC {item.rvc_percent.normalize():f}%"
        saved = preference[item.line_number].duty_saved
        rows.append((item, criterion, saved))
    return rows


def _form_e(pdf: _Form, certificate: Certificate, verify_url: str) -> None:
    left, half = MARGIN, WIDTH / 2
    pdf.box(
        left,
        10,
        half,
        30,
        "1. Goods consigned from (Exporter's business name, address, country)",
        _exporter_lines(certificate),
    )
    pdf.box(
        left + half,
        10,
        half,
        30,
        "Reference No.",
        [
            certificate.number,
            "ASEAN-CHINA FREE TRADE AREA PREFERENTIAL TARIFF CERTIFICATE OF ORIGIN",
            "(Combined Declaration and Certificate)",
            "FORM E",
            "Issued in THE PEOPLE'S REPUBLIC OF CHINA",
        ],
    )
    pdf.box(
        left,
        40,
        half,
        28,
        "2. Goods consigned to (Consignee's name, address, country)",
        _consignee_lines(certificate),
    )
    pdf.box(
        left,
        68,
        half,
        28,
        "3. Means of transport and route (as far as known)",
        _transport_lines(certificate),
    )
    pdf.box(
        left + half,
        40,
        half,
        56,
        "4. For Official Use",
        [
            "[ ] Preferential Treatment Given",
            "[ ] Preferential Treatment Not Given (Please state reason/s)",
            "",
            "Signature of Authorised Signatory of the Importing Party",
        ],
    )
    columns = [
        (15, "5. Item number"),
        (26, "6. Marks and numbers on packages"),
        (59, "7. Number and type of packages, description of goods, HS number"),
        (24, "8. Origin criterion"),
        (34, "9. Gross weight or other quantity and value (FOB)"),
        (32, "10. Number and date of invoices"),
    ]
    y = _table(
        pdf,
        96,
        columns,
        [
            [
                str(item.line_number),
                item.marks,
                f"{item.packages} packages; {item.description}; HS {item.hs_code}",
                criterion,
                f"{item.quantity.normalize():f}; FOB USD {item.fob_value or ''}",
                f"{certificate.invoice_number} {certificate.invoice_date}",
            ]
            for item, criterion, _saved in _item_rows(certificate)
        ],
    )
    pdf.box(
        left,
        y,
        half,
        52,
        "11. Declaration by the exporter",
        [
            "The undersigned hereby declares that the above details and statement are "
            "correct; that all the goods were produced in",
            "CHINA",
            "and that they comply with the origin requirements specified for these goods "
            "in the ASEAN-China Free Trade Area Preferential Tariff for the goods exported to",
            certificate.importing_country,
            f"Xiamen, {certificate.invoice_date}  ({certificate.exporter.name})",
        ],
        size=7,
    )
    _certification(pdf, certificate, verify_url, left + half, y, half, 52, "12")
    pdf.box(left, y + 52, WIDTH, 10, "13.", _flags(certificate))


def _rcep(pdf: _Form, certificate: Certificate, verify_url: str) -> None:
    left, half = MARGIN, WIDTH / 2
    pdf.box(
        left, 10, half, 24, "1. Exporter's name, address and country", _exporter_lines(certificate)
    )
    pdf.box(
        left + half,
        10,
        half,
        24,
        "Certificate No.",
        [
            certificate.number,
            "REGIONAL COMPREHENSIVE ECONOMIC PARTNERSHIP AGREEMENT",
            "CERTIFICATE OF ORIGIN",
            "Issued in CHINA",
        ],
    )
    pdf.box(
        left,
        34,
        half,
        22,
        "2. Importer's or consignee's name, address and country",
        _consignee_lines(certificate),
    )
    pdf.box(
        left,
        56,
        half,
        18,
        "3. Producer's name, address and country (if known)",
        [certificate.producer],
    )
    pdf.box(
        left,
        74,
        half,
        24,
        "4. Means of transport and route (if known)",
        _transport_lines(certificate),
    )
    pdf.box(
        left + half,
        34,
        half,
        64,
        "5. For official use",
        [
            "[ ] Preferential tariff treatment given",
            "[ ] Preferential tariff treatment not given (please state reason/s)",
        ],
    )
    columns = [
        (12, "6. Item No."),
        (20, "7. Marks and numbers"),
        (46, "8. Number and kind of packages; description of goods"),
        (20, "9. HS code (6-digit)"),
        (20, "10. Origin conferring criterion"),
        (18, "11. RCEP country of origin"),
        (30, "12. Quantity, FOB value (where RVC is applied)"),
        (24, "13. Invoice number and date"),
    ]
    y = _table(
        pdf,
        98,
        columns,
        [
            [
                str(item.line_number),
                item.marks,
                f"{item.packages} packages; {item.description}",
                item.hs_code[:6],
                criterion,
                "CN",
                f"{item.quantity.normalize():f}"
                + (f"; FOB USD {item.fob_value}" if item.origin_criterion == "RVC" else ""),
                f"{certificate.invoice_number} {certificate.invoice_date}",
            ]
            for item, criterion, _saved in _item_rows(certificate)
        ],
    )
    remarks = [
        "Back-to-back: " + ("yes" if certificate.back_to_back else "no"),
        "Third-party invoicing: " + ("yes" if certificate.third_party_invoicing else "no"),
        "Issued retroactively: " + ("yes" if certificate.retroactive else "no"),
    ]
    pdf.box(left, y, WIDTH, 14, "14. Remarks", ["; ".join(remarks)])
    pdf.box(
        left,
        y + 14,
        half,
        50,
        "15. Declaration by the exporter or producer",
        [
            "The undersigned hereby declares that the above details and statements are "
            "correct and that the goods covered in this Certificate comply with the "
            "requirements specified in Chapter 3 of the RCEP Agreement.",
            f"Goods exported to: {certificate.importing_country}",
            f"Xiamen, {certificate.invoice_date}  ({certificate.exporter.name})",
        ],
        size=7,
    )
    _certification(pdf, certificate, verify_url, left + half, y + 14, half, 50, "16")


def _table(pdf: _Form, top: float, columns: list[tuple], rows: list[list[str]]) -> float:
    """The goods table: a header row of numbered boxes, then one band per item."""
    x = MARGIN
    for width, label in columns:
        pdf.box(x, top, width, 12, label, [], size=6)
        x += width
    body_top = top + 12
    # Bands shrink past four items so the form stays on one page (about ten items fit).
    height = max(56, min(ROW_HEIGHT * len(rows), MAX_TABLE_HEIGHT))
    row_height = height / max(len(rows), 1)
    x = MARGIN
    for width, _label in columns:
        pdf.rect(x, body_top, width, height)
        x += width
    for row_index, row in enumerate(rows):
        x = MARGIN
        for (width, _label), text in zip(columns, row, strict=True):
            pdf.set_xy(x + 1, body_top + 1 + row_index * row_height)
            pdf.multi_cell(width - 2, 3.2, pdf.text_font(str(text), 7), align="L")
            x += width
    return body_top + height
