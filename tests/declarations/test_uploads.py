"""ERP uploads: CSV and XLSX, per-row errors, good declarations filed, progress."""

import csv
import io
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from declarations import uploads
from declarations.models import Declaration, DeclarationItem, ErpUpload
from port.errors import InvalidInput
from tests.conftest import container_number

COLUMNS = uploads.HEADER_COLUMNS + uploads.ITEM_COLUMNS


def row(reference, container, **cells):
    base = {
        "reference": reference,
        "enterprise_customs_code": "3502960127",
        "direction": "import",
        "vessel_imo": "9417402",
        "voyage": "062E",
        "bl_number": f"ERP{reference}",
        "containers": container,
        "currency": "CNY",
        "hs_code": "6907210000",
        "description": "Glazed ceramic floor tiles",
        "quantity": "100",
        "unit": "m2",
        "value": "2300",
        "origin_country": "CN",
    }
    return {**base, **cells}


def rows_for_three():
    """PO-1 good with two items, PO-2 bad on two rows, PO-3 good."""
    return [
        row("PO-1", container_number(801)),
        row("PO-1", container_number(801), hs_code="0202300090", description="Beef", value="4000"),
        row("PO-2", container_number(802), hs_code="12345"),
        row("PO-2", container_number(802), quantity="0"),
        row("PO-3", container_number(803), invoice_total="2300"),
    ]


def as_csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def as_xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for cells in rows:
        sheet.append([cells.get(c, "") for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "encode"), [("orders.csv", as_csv), ("orders.xlsx", as_xlsx)], ids=["csv", "xlsx"]
)
def test_good_declarations_are_filed_and_every_bad_row_reported(demo, name, encode):
    upload = uploads.erp_upload_create(
        user=demo.importer, file_name=name, content=encode(rows_for_three())
    )

    done = uploads.erp_upload_process(upload_id=upload.pk)

    assert done.status == ErpUpload.Status.DONE
    assert (done.total_declarations, done.processed_declarations, done.percent) == (3, 3, 100)
    assert [f["reference"] for f in done.filed] == ["PO-1", "PO-3"]
    assert done.errors == [
        {
            "row": 4,
            "reference": "PO-2",
            "field": "hs_code",
            "reason": "A commodity code has exactly 10 digits.",
        },
        {
            "row": 5,
            "reference": "PO-2",
            "field": "quantity",
            "reason": "The quantity must be a number above zero.",
        },
    ]
    assert Declaration.objects.count() == 2
    assert DeclarationItem.objects.filter(declaration__bl_number="ERPPO-1").count() == 2
    assert Declaration.objects.filter(bl_number="ERPPO-2").exists() is False  # never half-written


def test_processing_twice_files_nothing_twice(demo):
    upload = uploads.erp_upload_create(
        user=demo.importer, file_name="a.csv", content=as_csv(rows_for_three())
    )
    uploads.erp_upload_process(upload_id=upload.pk)

    again = uploads.erp_upload_process(upload_id=upload.pk)

    assert again.status == ErpUpload.Status.DONE
    assert Declaration.objects.count() == 2


def _queries_to_process(user, rows) -> int:
    upload = uploads.erp_upload_create(user=user, file_name="a.csv", content=as_csv(rows))
    with CaptureQueriesContext(connection) as queries:
        done = uploads.erp_upload_process(upload_id=upload.pk)
    assert (done.status, len(done.filed), done.errors) == (ErpUpload.Status.DONE, len(rows), [])
    return len(queries)


def test_an_upload_is_filed_in_batches_whatever_its_size(demo):
    """Not declaration by declaration: as many statements for 200 declarations as for 30
    (both past the few that `bulk.write` sends as INSERTs rather than COPY)."""
    few = [row(f"F-{n}", container_number(900 + n)) for n in range(30)]
    many = [row(f"M-{n}", container_number(1000 + n)) for n in range(200)]
    _queries_to_process(demo.importer, [row("W", container_number(899))])  # editions cached

    assert _queries_to_process(demo.importer, few) == _queries_to_process(demo.importer, many)


def test_a_run_cut_short_and_run_again_files_nothing_twice(demo, monkeypatch):
    """A worker lost mid-upload: the task runs again on an upload still processing, and the
    declarations' references (erp:<upload>:<reference>) answer those filed the first time."""
    monkeypatch.setattr(uploads, "CHUNK", 2)
    rows = [row(f"PO-{n}", container_number(1100 + n)) for n in range(5)]
    upload = uploads.erp_upload_create(user=demo.importer, file_name="a.csv", content=as_csv(rows))
    first = uploads.erp_upload_process(upload_id=upload.pk)
    ErpUpload.objects.filter(pk=upload.pk).update(status=ErpUpload.Status.PROCESSING)

    again = uploads.erp_upload_process(upload_id=upload.pk)

    assert again.status == ErpUpload.Status.DONE
    assert again.filed == first.filed
    assert len(again.filed) == 5
    assert (again.processed_declarations, again.percent) == (5, 100)
    assert Declaration.objects.count() == 5


def test_unknown_vessel_and_enterprise_are_named_by_column(demo):
    rows = [row("PO-9", container_number(809), voyage="999X", enterprise_customs_code="3502930458")]
    upload = uploads.erp_upload_create(user=demo.importer, file_name="a.csv", content=as_csv(rows))

    done = uploads.erp_upload_process(upload_id=upload.pk)

    assert {(e["row"], e["field"]) for e in done.errors} == {
        (2, "enterprise_customs_code"),
        (2, "voyage"),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.txt", b"x", "Upload a .csv or .xlsx file."),
        ("orders.csv", b"", "The file is empty."),
        (
            "orders.csv",
            b"reference,hs_code\nA,1\n",
            "Columns missing from the first row: bl_number, containers, description, origin_country, quantity, value, vessel_imo, voyage.",
        ),
        ("orders.xlsx", b"not a workbook", "This is not a readable XLSX workbook."),
        ("orders.csv", "reference\n".encode("utf-16"), "A CSV file must be UTF-8 encoded."),
    ],
)
def test_a_bad_file_is_refused_at_once_and_nothing_is_stored(demo, name, content, message):
    with pytest.raises(InvalidInput) as refused:
        uploads.erp_upload_create(user=demo.importer, file_name=name, content=content)

    assert refused.value.errors == {"file": [message]}
    assert ErpUpload.objects.exists() is False


def test_upload_page_files_and_shows_the_report_only_to_its_owner(demo, client):
    client.force_login(demo.importer)
    file = io.BytesIO(as_csv(rows_for_three()))
    file.name = "orders.csv"

    response = client.post("/declarations/uploads/", {"file": file})
    upload = ErpUpload.objects.get()
    uploads.erp_upload_process(upload_id=upload.pk)
    page = client.get(response["Location"]).content.decode()
    client.force_login(demo.exporter)

    assert response["Location"] == f"/declarations/uploads/{upload.pk}/"
    assert "A commodity code has exactly 10 digits." in page
    assert 'aria-valuenow="100"' in page
    assert client.get(f"/declarations/uploads/{upload.pk}/").status_code == 404
    assert "orders.csv" not in client.get("/declarations/uploads/").content.decode()


def test_upload_page_refuses_a_wrong_file_with_the_reason(demo, client):
    client.force_login(demo.importer)
    file = io.BytesIO(b"x")
    file.name = "orders.pdf"

    response = client.post("/declarations/uploads/", {"file": file})

    assert response.status_code == 400
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert ErpUpload.objects.exists() is False


@pytest.mark.slow
def test_a_worker_processes_an_upload(celery_worker_process, demo, client):
    client.force_login(demo.importer)
    file = io.BytesIO(as_xlsx(rows_for_three()))
    file.name = "orders.xlsx"

    client.post("/declarations/uploads/", {"file": file})

    upload = ErpUpload.objects.get()
    deadline = time.monotonic() + 60
    while upload.status != ErpUpload.Status.DONE and time.monotonic() < deadline:
        time.sleep(0.3)
        upload.refresh_from_db()
    assert upload.status == ErpUpload.Status.DONE
    assert len(upload.filed) == 2
    assert len(upload.errors) == 2


def test_api_upload_is_accepted_then_reports_by_row_and_is_private(demo, api_for):
    client = api_for(demo.importer)
    file = io.BytesIO(as_csv(rows_for_three()))
    file.name = "orders.csv"

    accepted = client.post("/api/v1/declaration-uploads/", {"file": file}, format="multipart")
    upload_id = accepted.json()["id"]
    uploads.erp_upload_process(upload_id=upload_id)
    report = client.get(f"/api/v1/declaration-uploads/{upload_id}/").json()

    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"
    assert (report["status"], report["percent"]) == ("done", 100)
    assert [e["row"] for e in report["errors"]] == [4, 5]
    assert (
        api_for(demo.exporter).get(f"/api/v1/declaration-uploads/{upload_id}/").status_code == 404
    )


def test_api_upload_of_a_wrong_file_is_400_with_the_reason(demo, api_for):
    file = io.BytesIO(b"x")
    file.name = "orders.pdf"

    response = api_for(demo.importer).post(
        "/api/v1/declaration-uploads/", {"file": file}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json() == {"file": ["Upload a .csv or .xlsx file."]}
    assert ErpUpload.objects.exists() is False


def test_an_executable_named_xlsx_is_refused_on_its_field_before_any_parsing(demo, api_for, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.port.test_uploads import EXE

    api = api_for(demo.importer).post(
        "/api/v1/declaration-uploads/",
        {"file": SimpleUploadedFile("orders.xlsx", EXE)},
        format="multipart",
    )
    client.force_login(demo.importer)
    page = client.post("/declarations/uploads/", {"file": SimpleUploadedFile("orders.xlsx", EXE)})

    assert api.status_code == 400
    assert api.json() == {"file": ["This file is not an XLSX workbook."]}
    assert page.status_code == 400
    assert "This file is not an XLSX workbook." in page.content.decode()
    assert ErpUpload.objects.exists() is False


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_workbook_that_expands_past_the_limit_is_refused_before_it_is_parsed(demo):
    sheet = b"<worksheet><sheetData>" + b"<row><c><v>1</v></c></row>" * 2_100_000
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": sheet})
    assert len(bomb) < 1024 * 1024  # small as sent

    with pytest.raises(InvalidInput) as refused:
        uploads.erp_upload_create(user=demo.importer, file_name="orders.xlsx", content=bomb)

    assert refused.value.errors == {"file": ["The workbook expands to more than 50 MB."]}
    assert ErpUpload.objects.exists() is False


def test_files_with_more_rows_than_the_limit_are_refused_at_once(demo):
    sheet = b'<worksheet><dimension ref="A1:T20002"/><sheetData></sheetData></worksheet>'
    workbook = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": sheet})
    csv_rows = b"reference\n" + b"A\n" * 20_001

    for name, content in (("orders.xlsx", workbook), ("orders.csv", csv_rows)):
        with pytest.raises(InvalidInput) as refused:
            uploads.erp_upload_create(user=demo.importer, file_name=name, content=content)
        assert refused.value.errors == {"file": ["The file has more than 20,000 rows."]}
    assert ErpUpload.objects.exists() is False


def test_the_worker_parses_an_xlsx_and_reports_missing_columns(demo):
    book = Workbook()
    book.active.append(["reference", "hs_code"])
    book.active.append(["A", "0202300090"])
    out = io.BytesIO()
    book.save(out)
    workbook = out.getvalue()

    upload = uploads.erp_upload_create(
        user=demo.importer, file_name="orders.xlsx", content=workbook
    )
    assert (upload.status, upload.total_declarations) == ("queued", 0)  # not parsed yet
    upload = uploads.erp_upload_process(upload_id=upload.pk)

    assert upload.status == ErpUpload.Status.FAILED
    assert upload.errors[0]["field"] == "file"
    assert upload.errors[0]["reason"].startswith("Columns missing from the first row:")
