"""A terminal imports a COARRI discharge report: the containers of its discharge messages
are reported through the diversion service, once each, for berthed calls at its terminal
only; and a beat sweeper queues again imports a lost task left behind."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inspection import diversion
from inspection.models import DiversionInstruction
from port.celery import app as celery_app
from port.models import Organisation, OutboxMessage, PortCall, TimelineEvent, User
from shipping import edifact_imports
from shipping.models import EdifactImport, ManifestEntry
from shipping.tasks import edifact_import_run_task
from tests.shipping.test_views import client_for

SAMPLE = Path(__file__).resolve().parent / "edifact" / "coarri_d95b_genoa.edi"
IMPORTS = "/api/v1/edifact-imports/"
# The sample's discharge message (BGM 44) lists these two; its loading message (46) 19 more.
ON_LIST, NOT_ON_LIST = "FCIU9908030", "MAGU5591240"
LOADING_ONLY = "\n".join(
    line for line in SAMPLE.read_text().splitlines() if "1452515553811" not in line
)


@pytest.fixture
def berthed(ship):
    """The demo call alongside since two hours, with one of the sample's discharged
    containers on its diversion list."""
    PortCall.objects.filter(pk=ship.call.pk).update(
        status=PortCall.Status.BERTHED, ata=timezone.now() - timedelta(hours=2)
    )
    diversion.diversion_plan(port_call_id=ship.call.pk, container_numbers=[ON_LIST])
    ship.terminal = User.objects.get(username="terminal")
    return ship


def upload(client, call_id, content: bytes | str = b"", name="coarri.edi"):
    content = content.encode() if isinstance(content, str) else content
    body = {"file": SimpleUploadedFile(name, content or SAMPLE.read_bytes())}
    if call_id is not None:
        body["port_call"] = call_id
    return client.post(IMPORTS, body, format="multipart")


def discharged_events():
    return TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CONTAINER_DISCHARGED)


def stranger_terminal(call) -> User:
    operator = Organisation.objects.create(
        name="Songyu Terminal Operator", kind=Organisation.Kind.TERMINAL_OPERATOR, port=call.port
    )
    user = User.objects.create(username="songyu")
    operator.memberships.create(user=user, role="operator")
    return user


def test_a_terminal_reports_the_discharge_messages_containers_once(berthed, api_for):
    terminal = api_for(berthed.terminal)

    response = upload(terminal, berthed.call.pk)
    edifact_imports.edifact_import_run(import_id=response.json()["id"])
    # a second run records nothing
    edifact_imports.edifact_import_run(import_id=response.json()["id"])

    assert response.status_code == 202, response.json()
    done = terminal.get(f"{IMPORTS}{response.json()['id']}/").json()
    assert done["status"] == "done"
    assert done["summary"]["discharge"] == {
        "port_call": berthed.call.pk,
        "discharged": 1,
        "already": 0,
        "unknown": [NOT_ON_LIST],
    }
    assert done["summary"]["warnings"] == [
        # The sample is Genoa's: another vessel, and its times are years before this call.
        f"The file names call sign 3ERX3; call {berthed.call.pk} is BVDB7.",
        "19 containers are in messages that are not discharge reports (loading, restow or "
        "other); they were read, not recorded.",
        f"The move time (DTM+203) of {ON_LIST}, {NOT_ON_LIST} is outside the call's stay; "
        "the time of the import is recorded instead.",
    ]
    assert discharged_events().count() == 1
    assert discharged_events().get().actor == berthed.terminal
    instruction = DiversionInstruction.objects.get(container__number=ON_LIST)
    assert timezone.now() - instruction.discharged_at < timedelta(minutes=1)
    assert not ManifestEntry.objects.exists()  # a terminal's report is not a manifest


def test_a_container_already_reported_is_counted_as_already(berthed, api_for):
    diversion.containers_report_discharged(
        user=berthed.terminal, port_call_id=berthed.call.pk, container_numbers=[ON_LIST]
    )

    response = upload(api_for(berthed.terminal), berthed.call.pk)
    done = edifact_imports.edifact_import_run(import_id=response.json()["id"])

    assert done.summary["discharge"]["discharged"] == 0
    assert done.summary["discharge"]["already"] == 1
    assert discharged_events().count() == 1


def test_the_move_time_within_the_stay_is_the_discharge_time(berthed, api_for):
    lifted = timezone.localtime() - timedelta(minutes=30)
    text = SAMPLE.read_text().replace("201602030913", lifted.strftime("%Y%m%d%H%M"))

    response = upload(api_for(berthed.terminal), berthed.call.pk, text)
    done = edifact_imports.edifact_import_run(import_id=response.json()["id"])

    instruction = DiversionInstruction.objects.get(container__number=ON_LIST)
    assert instruction.discharged_at == lifted.replace(second=0, microsecond=0)
    assert done.summary["warnings"][-1] == (
        f"The move time (DTM+203) of {NOT_ON_LIST} is outside the call's stay; "
        "the time of the import is recorded instead."
    )


def test_a_file_without_a_discharge_report_fails_and_records_nothing(berthed, api_for):
    response = upload(api_for(berthed.terminal), berthed.call.pk, LOADING_ONLY)
    done = edifact_imports.edifact_import_run(import_id=response.json()["id"])

    assert done.status == EdifactImport.Status.FAILED
    assert done.summary["error"] == "The file holds no container in a COARRI discharge report."
    assert not discharged_events().exists()


def test_a_call_that_departs_before_the_import_runs_fails_it(berthed, api_for):
    response = upload(api_for(berthed.terminal), berthed.call.pk)
    PortCall.objects.filter(pk=berthed.call.pk).update(status=PortCall.Status.DEPARTED)

    done = edifact_imports.edifact_import_run(import_id=response.json()["id"])

    assert done.status == EdifactImport.Status.FAILED
    assert done.summary["error"] == "Containers are discharged while the vessel is alongside."
    assert not DiversionInstruction.objects.filter(discharged_at__isnull=False).exists()
    assert not discharged_events().exists()


@pytest.mark.parametrize(
    ("status", "call", "message"),
    [
        ("expected", "the call", "Containers are discharged while the vessel is alongside."),
        ("berthed", None, "Choose the berthed port call the discharge report is about."),
        ("berthed", 999999, "Choose a port call."),
    ],
)
def test_a_terminal_upload_needs_a_berthed_call_field_by_field(
    berthed, api_for, status, call, message
):
    PortCall.objects.filter(pk=berthed.call.pk).update(status=status)
    call_id = berthed.call.pk if call == "the call" else call

    response = upload(api_for(berthed.terminal), call_id)

    assert response.status_code == 400
    assert response.json() == {"port_call": [message]}
    assert not EdifactImport.objects.exists()


def test_another_terminal_gets_404_and_an_enterprise_403(berthed, api_for):
    other_terminal = upload(api_for(stranger_terminal(berthed.call)), berthed.call.pk)
    enterprise = upload(api_for(berthed.demo.importer), berthed.call.pk)

    assert other_terminal.status_code == 404
    assert enterprise.status_code == 403
    assert not EdifactImport.objects.exists()
    assert not discharged_events().exists()


def test_an_agents_coarri_still_goes_to_its_manifest(berthed, api_for):
    response = upload(api_for(berthed.agent), berthed.call.pk)
    done = edifact_imports.edifact_import_run(import_id=response.json()["id"])

    assert done.summary["imported"]["created"] == 21
    assert "discharge" not in done.summary
    assert not discharged_events().exists()


def test_the_terminal_imports_from_the_call_page(berthed):
    url = f"/shipping/calls/{berthed.call.pk}/"
    terminal = client_for(berthed.terminal)
    officer_page = client_for(berthed.reviewers["customs_office"]).get(url).content.decode()

    response = terminal.post(
        url + "edifact/", {"file": SimpleUploadedFile("coarri.edi", SAMPLE.read_bytes())}
    )
    edifact_imports.edifact_import_run(import_id=EdifactImport.objects.get().pk)
    page = terminal.get(url).content.decode()

    assert response.status_code == 302
    assert "Import a COARRI discharge report" not in officer_page
    assert "Import a COARRI discharge report" in page
    assert (
        f"Discharged: 1 recorded, 0 already recorded, 1 not on the discharge list: "
        f'<span class="mono">{NOT_ON_LIST}</span>'
    ) in page
    assert discharged_events().count() == 1


def test_another_terminal_posting_on_the_call_page_gets_404(berthed):
    client = client_for(stranger_terminal(berthed.call))

    response = client.post(
        f"/shipping/calls/{berthed.call.pk}/edifact/",
        {"file": SimpleUploadedFile("coarri.edi", SAMPLE.read_bytes())},
    )

    assert response.status_code == 404
    assert not EdifactImport.objects.exists()


# --- The stuck-import sweeper ----------------------------------------------------------------


def stuck_import(berthed, api_for, *, minutes: int, status="processing", attempts=0) -> int:
    pk = upload(api_for(berthed.terminal), berthed.call.pk).json()["id"]
    EdifactImport.objects.filter(pk=pk).update(
        status=status, attempts=attempts, updated_at=timezone.now() - timedelta(minutes=minutes)
    )
    return pk


def test_the_sweeper_queues_again_only_imports_left_unfinished(berthed, api_for):
    processing = stuck_import(berthed, api_for, minutes=10)
    queued = stuck_import(berthed, api_for, minutes=10, status="queued")
    recent = stuck_import(berthed, api_for, minutes=1)
    finished = stuck_import(berthed, api_for, minutes=10, status="done")

    before = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    requeued = edifact_imports.edifact_import_requeue_stuck(older_than_seconds=300)
    again = edifact_imports.edifact_import_requeue_stuck(older_than_seconds=300)

    assert sorted(requeued) == sorted([processing, queued])
    queued_again = OutboxMessage.objects.filter(pk__gt=before)
    assert {m.task_name for m in queued_again} == {edifact_import_run_task.name}
    # one task each, through the outbox (sent by the relay after commit)
    assert sorted(m.kwargs["import_id"] for m in queued_again) == sorted(requeued)
    assert again == []  # touched: the next sweep waits for the threshold again
    attempts = dict(EdifactImport.objects.values_list("pk", "attempts"))
    assert attempts == {processing: 1, queued: 1, recent: 0, finished: 0}


def test_a_requeued_import_records_its_discharges_once(berthed, api_for):
    pk = stuck_import(berthed, api_for, minutes=10)
    edifact_imports.edifact_import_requeue_stuck(older_than_seconds=300)

    edifact_imports.edifact_import_run(import_id=pk)
    # the lost task turns up after all
    edifact_imports.edifact_import_run(import_id=pk)

    done = EdifactImport.objects.get(pk=pk)
    assert (done.status, done.progress) == ("done", 100)
    assert done.summary["discharge"]["discharged"] == 1
    assert discharged_events().count() == 1


def test_the_sweeper_fails_an_import_that_never_finishes(berthed, api_for):
    pk = stuck_import(berthed, api_for, minutes=10, attempts=edifact_imports.MAX_IMPORT_ATTEMPTS)

    requeued = edifact_imports.edifact_import_requeue_stuck(older_than_seconds=300)

    assert requeued == []
    failed = EdifactImport.objects.get(pk=pk)
    assert failed.status == EdifactImport.Status.FAILED
    assert failed.summary == {"error": "The import did not finish after several attempts."}
    assert not discharged_events().exists()


def test_the_sweeper_runs_every_minute_on_beat():
    entry = celery_app.conf.beat_schedule["shipping-edifact-requeue-stuck"]

    assert entry["schedule"] == 60.0
    assert entry["task"] in celery_app.tasks
