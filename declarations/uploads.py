"""ERP files: CSV or XLSX of declarations, one row per goods item (docs/erp-upload.md).

Rows with the same `reference` make one declaration; its header columns are read from its
first row. The declarations are filed in batches of CHUNK through the one filing service
(`services.declarations_file`: validated with a single filing's rules, written in bulk,
assessed by one task a batch), so a bad one is never half-written and never stops the good
ones. The task records progress on the upload row after each batch and publishes it live.
"""

import csv
import io
import itertools
import re
import zipfile

from django.db import transaction
from django.utils.translation import gettext as _

from declarations import events, services
from declarations.models import Declaration, ErpUpload
from declarations.tasks import erp_upload_process_task
from port import limits, live, outbox
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Organisation, PortCall, User

MAX_BYTES = 5 * 1024 * 1024
CHUNK = 250  # declarations filed at once: a batch's few statements, progress every batch
HEADER_COLUMNS = [
    "reference",
    "enterprise_customs_code",
    "direction",
    "kind",
    "vessel_imo",
    "voyage",
    "bl_number",
    "containers",
    "trade_mode",
    "port_of_loading",
    "port_of_discharge",
    "trading_country",
    "currency",
    "incoterm",
    "invoice_total",
    "packages",
    "gross_weight",
    "net_weight",
    "is_advance",
    "direct_delivery",
]
ITEM_COLUMNS = [
    "hs_code",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "value",
    "origin_country",
    "cas_number",
    "certificate_number",
]
REQUIRED_COLUMNS = {
    "reference",
    "vessel_imo",
    "voyage",
    "bl_number",
    "containers",
    "hs_code",
    "description",
    "quantity",
    "value",
    "origin_country",
}
# Header errors that the filing service reports under another name than the column.
FIELD_TO_COLUMN = {"enterprise": "enterprise_customs_code", "port_call": "voyage"}
BOOLEAN_TRUE = {"1", "y", "yes", "true", "x"}
# <dimension ref="A1:T120"/> at the top of a worksheet: its last row, as the writer stated it.
XLSX_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+[0-9]+:[A-Z]+([0-9]+)"')


@transaction.atomic
def erp_upload_create(*, user: User, file_name: str, content: bytes) -> ErpUpload:
    """Store an ERP file and queue its processing (parsing included) after commit.

    Checks now, without parsing the rows, what makes a file wrong at once: its size, its
    format, what an XLSX expands to and how many rows it has (docs/api-limits.md), and a
    CSV's column row. An XLSX's columns are checked by the worker, which reports them.
    Raises InvalidInput {"file": [...]}; writes nothing then.
    """
    declarant = services._declarant_for(user)
    if len(content) > MAX_BYTES:
        raise InvalidInput({"file": [_("The file is larger than 5 MB.")]})
    _check_shape(file_name, content)
    upload = ErpUpload.objects.create(
        declarant=declarant,
        created_by=user,
        file_name=file_name[:200],
        content=content,
    )
    outbox.enqueue(erp_upload_process_task.name, upload_id=upload.pk)
    return upload


def erp_upload_process(*, upload_id: int) -> ErpUpload:
    """File every declaration of an upload; record per-row errors and progress.

    Idempotent: each declaration is filed with the key erp:<upload>:<reference>, so a
    task run again after a lost worker files nothing twice; a finished upload is left alone.
    """
    upload = _start(upload_id)
    if upload.status != ErpUpload.Status.PROCESSING:
        return upload
    user = upload.created_by
    try:
        groups = _group(_read_rows(upload.file_name, bytes(upload.content)))
    except InvalidInput as refused:
        return _fail(upload, refused.errors.get("file", []))
    ErpUpload.objects.filter(pk=upload.pk).update(total_declarations=len(groups))
    upload.total_declarations = len(groups)
    filed, errors = [], []
    calls = _port_calls(groups)
    enterprises = _enterprises(groups)
    items = list(groups.items())
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        entries = [
            services.FilingEntry(
                filing=_filing(rows, calls, enterprises),
                reference=f"erp:{upload.pk}:{reference}"[:100],  # idempotent when run again
            )
            for reference, rows in chunk
        ]
        try:
            results = services.declarations_file(user=user, entries=entries)
        except InvalidInput as refused:  # the filer may not file at all (a role taken away)
            results = [
                services.BatchResult(index=i, errors=refused.errors) for i in range(len(chunk))
            ]
        for (reference, rows), result in zip(chunk, results, strict=True):
            if result.errors:
                errors.extend(_row_errors(reference, rows, result.errors))
            else:
                declaration = result.declaration
                filed.append(
                    {"reference": reference, "id": declaration.pk, "number": declaration.number}
                )
        _progress(upload, start + len(chunk))
    return _finish(upload, filed=filed, errors=errors)


def _start(upload_id: int) -> ErpUpload:
    with transaction.atomic():
        upload = ErpUpload.objects.select_for_update().get(pk=upload_id)
        if upload.status == ErpUpload.Status.QUEUED:
            _set_status(upload, ErpUpload.Status.PROCESSING)
    return upload


def _progress(upload: ErpUpload, done: int) -> None:
    ErpUpload.objects.filter(pk=upload.pk).update(processed_declarations=done)
    upload.processed_declarations = done
    live.publish_on_commit(
        groups=[events.upload_group(upload.pk)], event=events.upload_progress(upload)
    )


@transaction.atomic
def _finish(upload: ErpUpload, *, filed: list, errors: list) -> ErpUpload:
    upload = ErpUpload.objects.select_for_update().get(pk=upload.pk)
    upload.filed, upload.errors = filed, errors
    upload.processed_declarations = upload.total_declarations
    _set_status(
        upload,
        ErpUpload.Status.DONE,
        extra_fields=["filed", "errors", "processed_declarations"],
    )
    return upload


@transaction.atomic
def _fail(upload: ErpUpload, messages: list[str]) -> ErpUpload:
    """The file cannot be read as declarations: the report says why, on row 1."""
    upload = ErpUpload.objects.select_for_update().get(pk=upload.pk)
    upload.errors = [{"row": 1, "reference": "", "field": "file", "reason": m} for m in messages]
    _set_status(upload, ErpUpload.Status.FAILED, extra_fields=["errors"])
    return upload


def _check_shape(file_name: str, content: bytes) -> None:
    """Refuse a file whose rows would cost too much to read, before reading any."""
    name = file_name.lower()
    if name.endswith(".xlsx"):
        _check_xlsx_shape(content)
    elif name.endswith(".csv"):
        if content.count(b"\n") > limits.MAX_ERP_ROWS + 1:
            raise InvalidInput({"file": [_too_many_rows()]})
        _read_header(_csv_table(content, rows=1))
    else:
        raise InvalidInput({"file": [_("Upload a .csv or .xlsx file.")]})


def _check_xlsx_shape(content: bytes) -> None:
    """From the ZIP directory and the sheet's stated dimension only: nothing is inflated
    but the first 4 KB of each worksheet."""
    unreadable = InvalidInput({"file": [_("This is not a readable XLSX workbook.")]})
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
        if sum(m.file_size for m in members) > limits.MAX_ERP_UNCOMPRESSED_BYTES:
            raise InvalidInput(
                {
                    "file": [
                        _("The workbook expands to more than %(mb)s MB.")
                        % {"mb": limits.MAX_ERP_UNCOMPRESSED_BYTES // (1024 * 1024)}
                    ]
                }
            )
        sheets = [m for m in members if m.filename.startswith("xl/worksheets/sheet")]
        if not sheets:
            raise unreadable
        for sheet in sheets:
            with archive.open(sheet) as stream:
                head = stream.read(4096)
            match = XLSX_DIMENSION.search(head)
            if match and int(match.group(1)) > limits.MAX_ERP_ROWS + 1:
                raise InvalidInput({"file": [_too_many_rows()]})
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError):
        raise unreadable from None


def _too_many_rows() -> str:
    return _("The file has more than %(rows)s rows.") % {"rows": f"{limits.MAX_ERP_ROWS:,}"}


def _set_status(upload: ErpUpload, new: str, *, extra_fields=()) -> None:
    if new not in ErpUpload.TRANSITIONS[upload.status]:
        raise TransitionNotAllowed(obj=upload, old=upload.status, new=new)
    upload.status = new
    upload.save(update_fields=["status", "updated_at", *extra_fields])
    live.publish_on_commit(
        groups=[events.upload_group(upload.pk)], event=events.upload_progress(upload)
    )


def _read_rows(file_name: str, content: bytes) -> list[tuple[int, dict]]:
    """(row number as the filer sees it, {column: text}) for every non-empty data row."""
    name = file_name.lower()
    if name.endswith(".csv"):
        table = _csv_table(content)
    elif name.endswith(".xlsx"):
        table = _xlsx_table(content)
    else:
        raise InvalidInput({"file": [_("Upload a .csv or .xlsx file.")]})
    columns = _read_header(table)
    if len(table) > limits.MAX_ERP_ROWS + 1:
        raise InvalidInput({"file": [_too_many_rows()]})
    rows = []
    for number, values in enumerate(table[1:], start=2):
        cells = {c: _text(v) for c, v in zip(columns, values, strict=False) if c}
        if any(cells.values()):
            rows.append((number, cells))
    if not rows:
        raise InvalidInput({"file": [_("The file has no declaration rows.")]})
    return rows


def _read_header(table: list) -> list[str]:
    """The column names of the first row; InvalidInput when the file is empty or lacks one."""
    if not table:
        raise InvalidInput({"file": [_("The file is empty.")]})
    columns = [str(c or "").strip().lower() for c in table[0]]
    missing = sorted(REQUIRED_COLUMNS - set(columns))
    if missing:
        raise InvalidInput(
            {
                "file": [
                    _("Columns missing from the first row: %(columns)s.")
                    % {"columns": ", ".join(missing)}
                ]
            }
        )
    return columns


def _csv_table(content: bytes, rows: int | None = None) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"file": [_("A CSV file must be UTF-8 encoded.")]}) from None
    return list(itertools.islice(csv.reader(io.StringIO(text)), rows))


def _xlsx_table(content: bytes) -> list[list]:
    from openpyxl import load_workbook  # only when an XLSX arrives

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file  # noqa: BLE001
        raise InvalidInput({"file": [_("This is not a readable XLSX workbook.")]}) from None
    sheet = workbook.worksheets[0]
    # One row past the limit is enough to refuse the file; the rest is never read.
    rows = itertools.islice(sheet.iter_rows(values_only=True), limits.MAX_ERP_ROWS + 2)
    table = [list(row) for row in rows]
    workbook.close()
    return table


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _group(rows: list[tuple[int, dict]]) -> dict[str, list[tuple[int, dict]]]:
    groups: dict[str, list[tuple[int, dict]]] = {}
    for number, cells in rows:
        reference = cells.get("reference") or f"row-{number}"
        groups.setdefault(reference, []).append((number, cells))
    return groups


def _port_calls(groups) -> dict[tuple[str, str], int]:
    """One query for every vessel and voyage the file names."""
    wanted = {
        (r[0][1].get("vessel_imo", ""), r[0][1].get("voyage", "").upper()) for r in groups.values()
    }
    calls = PortCall.objects.exclude(status=PortCall.Status.DEPARTED).filter(
        vessel__imo_number__in={imo for imo, _ in wanted}, voyage__in={v for _, v in wanted}
    )
    return {(c.vessel.imo_number, c.voyage.upper()): c.pk for c in calls.select_related("vessel")}


def _enterprises(groups) -> dict[str, int]:
    codes = {r[0][1].get("enterprise_customs_code", "") for r in groups.values()} - {""}
    return dict(
        Organisation.objects.filter(customs_code__in=codes).values_list("customs_code", "pk")
    )


def _filing(rows, calls, enterprises) -> services.FilingInput:
    first = rows[0][1]
    code = first.get("enterprise_customs_code", "")
    enterprise_id = enterprises.get(code, -1) if code else None
    call_id = calls.get((first.get("vessel_imo", ""), first.get("voyage", "").upper()))
    header = services.HeaderInput(
        trade_mode=first.get("trade_mode") or Declaration.TradeMode.GENERAL,
        port_of_loading=first.get("port_of_loading", ""),
        port_of_discharge=first.get("port_of_discharge", ""),
        trading_country=first.get("trading_country", ""),
        currency=first.get("currency") or "CNY",
        incoterm=first.get("incoterm", ""),
        invoice_total=first.get("invoice_total", ""),
        packages=first.get("packages", ""),
        gross_weight=first.get("gross_weight", ""),
        net_weight=first.get("net_weight", ""),
        is_advance=first.get("is_advance", "").lower() in BOOLEAN_TRUE,
        direct_delivery=first.get("direct_delivery", "").lower() in BOOLEAN_TRUE,
    )
    return services.FilingInput(
        enterprise_id=enterprise_id,
        port_call_id=call_id or -1 if first.get("voyage") else None,
        bl_number=first.get("bl_number", ""),
        container_numbers=first.get("containers", "").replace(";", " ").replace(",", " ").split(),
        items=[
            services.ItemInput(
                **{c: cells.get(c, "") for c in ITEM_COLUMNS if c != "unit"},
                unit=cells.get("unit") or "kg",
            )
            for _, cells in rows
        ],
        direction=first.get("direction") or Declaration.Direction.IMPORT,
        kind=first.get("kind") or Declaration.Kind.FULL,
        header=header,
    )


def _row_errors(reference: str, rows, errors: dict) -> list[dict]:
    """Each error with the row the filer must fix: header errors on the first row."""
    out = []
    first_row = rows[0][0]
    for field, messages in errors.items():
        if field == "items" and isinstance(messages, dict):
            for index, item_errors in messages.items():
                for item_field, item_messages in item_errors.items():
                    out += [
                        {
                            "row": rows[int(index)][0],
                            "reference": reference,
                            "field": item_field,
                            "reason": m,
                        }
                        for m in item_messages
                    ]
            continue
        column = FIELD_TO_COLUMN.get(field, field)
        out += [
            {"row": first_row, "reference": reference, "field": column, "reason": m}
            for m in messages
        ]
    return sorted(out, key=lambda e: (e["row"], e["field"]))
