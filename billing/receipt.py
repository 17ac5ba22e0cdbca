"""A payment's receipt as a one-page PDF (fpdf2, with the CJK font the certificates use)."""

from fpdf import FPDF

from billing.models import Payment


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def receipt_pdf(payment: Payment) -> bytes:
    bill = payment.bill
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, "Portwise - receipt for duties and taxes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    rows = [
        ("Receipt", payment.receipt_number),
        ("Tax bill", bill.number),
        ("Declaration", bill.declaration.number or f"#{bill.declaration_id}"),
        ("Paid on", payment.created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Method", payment.get_method_display()),
        ("Bank reference", payment.bank_reference or "-"),
        (
            "Insurer / policy",
            f"{payment.insurer} / {payment.policy_number}" if payment.insurer else "-",
        ),
    ]
    for label, value in rows:
        pdf.cell(45, 7, label)
        pdf.cell(0, 7, str(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 10)
    widths = (12, 26, 34, 30, 30, 30)
    for width, title in zip(
        widths, ("Line", "HS code", "Value (CNY)", "Duty", "Consumption", "VAT"), strict=True
    ):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("helvetica", "", 10)
    for line in bill.lines.all():
        cells = (
            str(line.line_number),
            line.hs_code,
            _money(line.customs_value_cents),
            _money(line.tariff_cents),
            _money(line.consumption_cents),
            _money(line.vat_cents),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 7, text)
        pdf.ln()
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(
        0,
        9,
        f"Total paid: {_money(payment.amount_cents)} {bill.currency}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
