"""Every import says, for each file, what was recognised, counted, accepted, warned and
refused: the command (on the real samples of ../shared/samples/edifact, copied with their
sources into tests/shipping/edifact) and the upload page, in English and Chinese."""

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from shipping import edifact_imports
from shipping.models import EdifactImport

SAMPLES = Path(__file__).parent / "edifact"


def _command(name: str, *args) -> dict:
    out = io.StringIO()
    call_command("import_edifact", str(SAMPLES / name), *args, stdout=out)
    return json.loads(out.getvalue())["outcome"]


@pytest.mark.parametrize(
    ("name", "recognised", "counted", "warned", "refused"),
    [
        ("baplie_d95b_longbeach.edi", {"BAPLIE": 1}, {"containers": 3}, 2, 0),
        ("baplie_d04b_placeholders.edi", {"BAPLIE": 1}, {"containers": 1}, 2, 1),
        ("coarri_d95b_genoa.edi", {"COARRI": 2}, {"containers": 21}, 0, 0),
        ("coprar_d95b_no_unb.edi", {"COPRAR": 1}, {"containers": 2}, 3, 2),
        ("iftsta_d00b.edi", {"IFTSTA": 1}, {"containers": 1}, 1, 1),
        ("iftsai_d99b_rotterdam_1.edi", {"IFTSAI": 1}, {"containers": 0}, 2, 0),
        ("cuscar_d95b_xiamen.edi", {"CUSCAR": 1},
         {"consignments": 2, "goods_items": 3, "containers": 3}, 2, 1),
        ("paxlst_d05b_crew.edi", {"PAXLST": 1}, {"crew": 2, "passengers": 0}, 1, 2),
        ("codeco_d95b_xhct.edi", {"CODECO": 2}, {"containers": 4}, 1, 1),
    ],
)  # fmt: skip
def test_the_command_says_what_each_file_gave(db, name, recognised, counted, warned, refused):
    outcome = _command(name)

    assert {r["type"]: r["messages"] for r in outcome["recognised"]} == recognised
    assert outcome["counted"] == counted
    assert (outcome["accepted"], outcome["warned"], outcome["refused"]) == (0, warned, refused)


def test_imported_into_a_call_the_accepted_lines_are_counted(ship):
    outcome = _command("cuscar_d95b_xiamen.edi", "--call", str(ship.call.pk))
    assert (outcome["accepted"], outcome["warned"], outcome["refused"]) == (3, 2, 1)


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Recognised: CUSCAR (messages: 1); accepted 3, warned 2, refused 1"),
        ("zh-hans", "识别： CUSCAR（1 份报文）; 接受 3，警告 2，拒绝 1"),
    ],
)
def test_the_upload_page_says_the_same_for_each_file(ship, language, line):
    client = Client()
    client.force_login(ship.agent)
    url = f"/shipping/calls/{ship.call.pk}/"
    content = (SAMPLES / "cuscar_d95b_xiamen.edi").read_bytes()
    client.post(url + "edifact/", {"file": SimpleUploadedFile("cuscar.edi", content)})
    edifact_imports.edifact_import_run(import_id=EdifactImport.objects.get().pk)

    with translation.override(None):  # the request's language ends with the test
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert line in page
