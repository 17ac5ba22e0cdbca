"""Zone documents from an ERP file (CSV or XLSX): one row per goods line; rows with the same
`document` reference form one document. Errors come back by row number."""

import csv
import io

from django.utils.translation import gettext as _

from port.errors import InvalidInput

DOCUMENT_COLUMNS = [
    "kind",
    "truck_plate",
    "container",
    "seal",
    "declared_weight_kg",
    "counterparty_uscc",
    "declaration_number",
    "duty_amount",
]
LINE_COLUMNS = [
    "item_no",
    "hs_code",
    "description",
    "unit",
    "quantity",
    "value",
    "un_number",
    "cas_number",
    "certificate_number",
]
REQUIRED = {"document", "kind", *LINE_COLUMNS} - {"un_number", "cas_number", "certificate_number"}
MAX_ROWS = 5000


def check_shape(content: bytes, name: str) -> None:
    """Before queueing: a CSV's row count, an XLSX's size once unzipped (from the ZIP
    directory only), so a worker never inflates a bomb or reads 100,000 rows."""
    import zipfile

    from port import limits

    if name.lower().endswith(".xlsx"):
        try:
            members = zipfile.ZipFile(io.BytesIO(content)).infolist()
        except zipfile.BadZipFile:
            raise InvalidInput({"file": [_("This is not a readable XLSX workbook.")]}) from None
        if sum(m.file_size for m in members) > limits.MAX_ERP_UNCOMPRESSED_BYTES:
            raise InvalidInput({"file": [_("The workbook expands to more than 50 MB.")]})
    elif content.count(b"\n") > MAX_ROWS + 1:
        raise InvalidInput({"file": [_("At most %(n)d rows a file.") % {"n": MAX_ROWS}]})


def documents_from_file(content: bytes, name: str) -> tuple[list[dict], list[list[int]]]:
    """The documents a file holds, and for each the row numbers of its lines (each document
    also names its `document` reference)."""
    table = _xlsx(content) if name.lower().endswith(".xlsx") else _csv(content)
    if not table:
        raise InvalidInput({"file": [_("The file is empty.")]})
    columns = [str(c or "").strip().lower() for c in table[0]]
    missing = sorted(REQUIRED - set(columns))
    if missing:
        raise InvalidInput(
            {
                "file": [
                    _("Columns missing from the first row: %(columns)s.")
                    % {"columns": ", ".join(missing)}
                ]
            }
        )
    if len(table) - 1 > MAX_ROWS:
        raise InvalidInput({"file": [_("At most %(n)d rows a file.") % {"n": MAX_ROWS}]})
    docs: dict[str, dict] = {}
    rows: dict[str, list[int]] = {}
    for number, values in enumerate(table[1:], start=2):
        cells = {c: _text(v) for c, v in zip(columns, values, strict=False) if c}
        if not any(cells.values()):
            continue
        reference = cells.get("document") or f"row-{number}"
        doc = docs.setdefault(
            reference,
            {c: cells.get(c, "") for c in DOCUMENT_COLUMNS}
            | {"lines": [], "document": reference[:60]},
        )
        doc["lines"].append({c: cells.get(c, "") for c in LINE_COLUMNS})
        rows.setdefault(reference, []).append(number)
    if not docs:
        raise InvalidInput({"file": [_("The file has no document rows.")]})
    return list(docs.values()), list(rows.values())


def errors_by_row(errors: dict, rows: list[list[int]]) -> dict:
    """{"documents": {"0": {"lines": {"1": {"hs_code": [...]}}}}} -> {"file": ["Row 3: ..."]}"""
    messages = []
    documents = errors.get("documents")
    if not isinstance(documents, dict):
        return {"file": [str(m) for m in (documents or errors.values())]}
    for index, doc_errors in documents.items():
        doc_rows = rows[int(index)]
        for field, found in doc_errors.items():
            if field == "lines" and isinstance(found, dict):
                for line, line_errors in found.items():
                    for line_field, line_messages in line_errors.items():
                        messages += [
                            _("Row %(row)s, %(field)s: %(message)s")
                            % {"row": doc_rows[int(line)], "field": line_field, "message": m}
                            for m in line_messages
                        ]
            else:
                messages += [
                    _("Row %(row)s, %(field)s: %(message)s")
                    % {"row": doc_rows[0], "field": field, "message": m}
                    for m in found
                ]
    return {"file": messages}


def _csv(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"file": [_("A CSV file must be UTF-8 encoded.")]}) from None
    return list(csv.reader(io.StringIO(text)))


def _xlsx(content: bytes) -> list[list]:
    from openpyxl import load_workbook  # only when an XLSX arrives

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file  # noqa: BLE001
        raise InvalidInput({"file": [_("This is not a readable XLSX workbook.")]}) from None
    table = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    return table


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
