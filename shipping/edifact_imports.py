"""EDIFACT files uploaded by shipping agents and terminal operators: queued, read by the reader
of their message type (BAPLIE, COPRAR, COARRI, CUSCAR, PAXLST, CODECO...) and imported. An
agent's file fills its manifest (cargo.py); a terminal's file reports its container moves
(terminal_moves.py). A beat sweeper queues again what a lost task left behind."""

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from port import identifiers, live, outbox
from port.errors import InvalidInput, NotYours
from port.models import Organisation, PortCall, User
from shipping import cargo, cuscar, edifact, events, paxlst, reference, terminal_moves
from shipping.import_outcome import outcome
from shipping.models import EdifactImport, ManifestConsignment, ManifestEntry
from shipping.tasks import edifact_import_run_task

# A file whose import was queued again this many times and still did not finish is failed.
MAX_IMPORT_ATTEMPTS = 3


def edifact_import_text(*, text: str, port_call_id: int | None = None) -> dict:
    """Read an EDIFACT file and, with a call, write its containers to the call's manifest
    (as the call's shipping agent). Returns the summary. Raises edifact.Unreadable,
    InvalidInput (no such call, or a call without an agent)."""
    result = _parse(text)
    summary = result.summary()
    if port_call_id is None:
        return {**summary, "outcome": outcome(summary)}
    with transaction.atomic():
        call = PortCall.objects.select_related("vessel", "agent").filter(pk=port_call_id).first()
        if call is None:
            raise InvalidInput({"call": [_("No port call %(id)s.") % {"id": port_call_id}]})
        if call.agent is None:
            raise InvalidInput({"call": [_("The call has no shipping agent to import for.")]})
        summary["imported"] = _import_into(call, call.agent, result, actor=None)
        summary["warnings"] = result.warnings
    summary["outcome"] = outcome(summary)
    return summary


def _parse(text: str):
    """The file read by the reader of its message type (CUSCAR, PAXLST, or the container
    lists of BAPLIE, COPRAR, COARRI, CODECO and others)."""
    kind = edifact.message_type(text)
    if kind == "CUSCAR":
        return cuscar.parse(text)
    if kind == "PAXLST":
        return paxlst.parse(text)
    return edifact.parse(text)


def _import_into(call: PortCall, organisation, result, *, actor) -> dict:
    if isinstance(result, cuscar.CargoReport):
        return _import_cargo_report(call, organisation, result, actor=actor)
    if isinstance(result, edifact.Result) and "CODECO" in result.message_type.split(","):
        # Gate moves are not cargo: a terminal operator's upload reports them at the gate.
        result.warnings.append(
            "CODECO gate moves are reported by the terminal operator's upload; the manifest "
            "is left alone."
        )
        return {"port_call": call.pk, "created": 0, "updated": 0}
    if isinstance(result, paxlst.PeopleList):
        # Crew and passenger lists belong to a vessel filing, which the agent files with
        # them (paxlst.person_inputs); the manifest is left alone.
        _compare_vessel(call, result)
        return {"port_call": call.pk, "created": 0, "updated": 0,
                "people_read": len(result.people)}  # fmt: skip
    _compare_vessel(call, result)
    rows = [_row_from_edifact(c) for c in result.containers]
    existing = set(
        ManifestEntry.objects.filter(port_call=call, submitted_by=organisation).values_list(
            "bl_number", "container_number"
        )
    )
    if rows:
        cargo.manifest_write_rows(
            port_call=call,
            organisation=organisation,
            rows=rows,
            source=ManifestEntry.Source.EDIFACT,
            actor=actor,
        )
    updated = sum(1 for r in rows if (r["bl_number"], r["container_number"]) in existing)
    return {"port_call": call.pk, "created": len(rows) - updated, "updated": updated}


def _import_cargo_report(call: PortCall, organisation, report: cuscar.CargoReport, *, actor):
    """A CUSCAR's consignments (parties, goods) and their containers onto the call's manifest,
    reconciled against the bay plan (the manifest lines a BAPLIE gave a stowage cell)."""
    _compare_vessel(call, report)
    consignments = {c.bl_number.upper(): c for c in report.consignments if c.bl_number}
    ManifestConsignment.objects.bulk_create(
        [_consignment_row(call, organisation, bl, c) for bl, c in consignments.items()],
        update_conflicts=True,
        unique_fields=["port_call", "submitted_by", "bl_number"],
        update_fields=[
            "shipper", "consignee", "notify_party", "port_of_loading", "port_of_discharge",
            "goods", "containers", "updated_at",
        ],
    )  # fmt: skip
    rows = {}
    for bl, consignment in consignments.items():
        if not identifiers.BL_NUMBER_PATTERN.match(bl):
            report.refused.append(
                {
                    "consignment": bl,
                    "segment": f"CNI at segment {consignment.segment}",
                    "reason": "not a B/L number",
                }
            )
            continue
        for number in consignment.container_numbers():
            rows[(bl, number)] = _row_from_consignment(bl, number, consignment)
    existing = {
        (bl, number): cell
        for bl, number, cell in ManifestEntry.objects.filter(
            port_call=call, submitted_by=organisation
        ).values_list("bl_number", "container_number", "stowage_position")
    }
    for key, row in rows.items():
        row["stowage_position"] = existing.get(key, "")  # a bay plan's cell is kept
    if rows:
        cargo.manifest_write_rows(
            port_call=call,
            organisation=organisation,
            rows=list(rows.values()),
            source=ManifestEntry.Source.EDIFACT,
            actor=actor,
        )
    updated = sum(1 for key in rows if key in existing)
    return {
        "port_call": call.pk,
        "consignments": len(consignments),
        "created": len(rows) - updated,
        "updated": updated,
        "bay_plan": _reconcile_with_bay_plan(call, {n for _bl, n in rows}),
    }


def _reconcile_with_bay_plan(call: PortCall, reported: set[str]) -> dict:
    stowed = set(
        ManifestEntry.objects.filter(port_call=call)
        .exclude(stowage_position="")
        .values_list("container_number", flat=True)
    )
    if not stowed:
        return {"compared": False, "note": "No bay plan (BAPLIE) has been imported for this call."}
    return {
        "compared": True,
        "not_in_bay_plan": sorted(reported - stowed),
        "not_in_cargo_report": sorted(stowed - reported),
    }


def _consignment_row(call, organisation, bl: str, consignment: cuscar.Consignment):
    return ManifestConsignment(
        port_call=call,
        submitted_by=organisation,
        bl_number=bl,
        shipper=consignment.shipper,
        consignee=consignment.consignee,
        notify_party=consignment.notify_party,
        port_of_loading=consignment.port_of_loading,
        port_of_discharge=consignment.port_of_discharge,
        goods=[
            {k: v for k, v in vars(item).items() if k != "segment"} for item in consignment.goods
        ],
        containers=consignment.container_numbers(),
    )


def _row_from_consignment(bl: str, number: str, consignment: cuscar.Consignment) -> dict:
    """A manifest line: the container's own goods items (SGP), else the consignment's."""
    goods = [g for g in consignment.goods if number in g.containers] or consignment.goods
    equipment = next((e for e in consignment.equipment if e.number == number), None)
    weights = [Decimal(g.gross_weight_kg) for g in goods if g.gross_weight_kg]
    weight = equipment.gross_weight_kg if equipment and equipment.gross_weight_kg else None
    if weight is None and weights and all(number in g.containers for g in goods):
        weight = sum(weights)
    dangerous = next((g for g in goods if reference.UN_NUMBER_PATTERN.match(g.un_number)), None)
    hs_code = next((g.hs_code for g in goods if len(g.hs_code) == 10), "")
    return {
        "bl_number": bl,
        "container_number": number,
        "size_type": equipment.size_type if equipment else "",
        "seal_number": equipment.seals[0] if equipment and equipment.seals else "",
        "gross_weight_kg": Decimal(weight) if weight else None,
        "description": "; ".join(g.description for g in goods if g.description)[:250],
        "hs_code": hs_code,
        "un_number": dangerous.un_number if dangerous else "",
        "imdg_class": dangerous.imdg_class if dangerous else "",
        "packing_group": "",
        "stowage_position": "",
    }


def _row_from_edifact(container: edifact.ContainerRead) -> dict:
    un_ok = bool(reference.UN_NUMBER_PATTERN.match(container.un_number))
    return {
        "bl_number": container.bl_number or container.booking,
        "container_number": container.number,
        "size_type": container.size_type,
        "seal_number": container.seal_number,
        "gross_weight_kg": Decimal(container.gross_weight_kg)
        if container.gross_weight_kg
        else None,
        "description": container.description,
        "hs_code": "",
        "un_number": container.un_number if un_ok else "",
        "imdg_class": container.imdg_class if un_ok else "",
        "packing_group": "",
        "stowage_position": container.stowage_position,
    }


def _compare_vessel(call: PortCall, result: edifact.Result) -> None:
    read = result.vessel
    vessel = call.vessel
    if read.get("imo_number") and read["imo_number"] != vessel.imo_number:
        result.warnings.append(
            f"The file names IMO {read['imo_number']}; call {call.pk} is {vessel.imo_number}."
        )
    elif read.get("call_sign") and vessel.call_sign and read["call_sign"] != vessel.call_sign:
        result.warnings.append(
            f"The file names call sign {read['call_sign']}; call {call.pk} is {vessel.call_sign}."
        )


@transaction.atomic
def edifact_import_create(
    *, user: User, file_name: str, content: bytes, port_call_id: int | None
) -> EdifactImport:
    """Queue an uploaded EDIFACT file for import; after commit, Celery processes it.

    A shipping agent's file goes to its manifest (with or without a call). A terminal
    operator uploads a COARRI discharge report for a berthed call at its terminal; its
    containers are reported discharged. Raises PermissionDenied (neither), NotYours
    (another terminal's call), InvalidInput (bad file, no call, a call not alongside).
    """
    errors: dict = {}
    text = _decode(content, errors)
    gate_file = edifact.message_type(text) == "CODECO"
    organisation = _uploader(user, port_call_id, errors, gate_file=gate_file)
    if errors:
        raise InvalidInput(errors)
    upload = EdifactImport.objects.create(
        port_call_id=port_call_id,
        organisation=organisation,
        created_by=user,
        file_name=(file_name or "upload.edi")[:200],
        content=text,
    )
    outbox.enqueue(edifact_import_run_task.name, import_id=upload.pk)
    return upload


def _uploader(
    user: User, port_call_id: int | None, errors: dict, *, gate_file: bool = False
) -> Organisation:
    """The organisation the file is imported for; the call's checks land in `errors`. A
    terminal's CODECO (gate moves) needs no call."""
    kinds = {Organisation.Kind.SHIPPING_AGENT, Organisation.Kind.TERMINAL_OPERATOR}
    organisation = (
        Organisation.objects.filter(kind__in=kinds, memberships__user=user)
        .order_by("kind", "pk")  # shipping_agent first: it imports manifests
        .first()
    )
    if organisation is None:
        raise PermissionDenied(
            _("Only shipping agents and terminal operators import UN/EDIFACT files.")
        )
    call = PortCall.objects.filter(pk=port_call_id).first() if port_call_id is not None else None
    if port_call_id is not None and call is None:
        errors["port_call"] = [_("Choose a port call.")]
    if organisation.kind == Organisation.Kind.SHIPPING_AGENT or "port_call" in errors:
        return organisation
    if gate_file:
        return organisation  # gate moves are the terminal's, whichever call is open
    if call is None:
        errors["port_call"] = [_("Choose the berthed port call the discharge report is about.")]
    elif not PortCall.objects.filter(pk=call.pk, terminal__operator=organisation).exists():
        raise NotYours("No such port call at your terminal")
    elif call.status != PortCall.Status.BERTHED:
        errors["port_call"] = [_("Containers are discharged while the vessel is alongside.")]
    return organisation


def _decode(content: bytes, errors: dict) -> str:
    if not content:
        errors["file"] = [_("The file is empty.")]
        return ""
    if len(content) > 5_000_000:
        errors["file"] = [_("The file is larger than 5 MB.")]
        return ""
    if b"\x00" in content:
        errors["file"] = [_("This is a binary file, not UN/EDIFACT text.")]
        return ""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")  # UNOB/UNOC files are ISO 8859-1


def edifact_import_run(*, import_id: int) -> EdifactImport:
    """Process a queued import. Idempotent: a run that finds the import finished (a
    second run, or a re-queued one that lost the race) changes nothing."""
    with transaction.atomic():
        claimed = EdifactImport.objects.filter(
            pk=import_id, status__in=[EdifactImport.Status.QUEUED, EdifactImport.Status.PROCESSING]
        ).update(status=EdifactImport.Status.PROCESSING, progress=10, updated_at=timezone.now())
        upload = EdifactImport.objects.select_related("port_call__vessel", "organisation").get(
            pk=import_id
        )
        if not claimed:
            return upload
        live.publish_on_commit(
            groups=[live.organisation_group(upload.organisation_id)],
            event=events.import_progress(upload),
        )
    with transaction.atomic():
        upload = (
            EdifactImport.objects.select_for_update(of=("self",))
            .select_related("port_call__vessel", "port_call__terminal", "organisation")
            .get(pk=import_id)
        )
        # Two runs may both have claimed it (a sweeper re-queued it while the first was
        # slow); the lock orders them and the second finds it done.
        if upload.status != EdifactImport.Status.PROCESSING:
            return upload
        upload.status, upload.summary = _process(upload)
        upload.progress = 100
        fields = ["status", "summary", "progress", "updated_at"]
        if upload.summary.get("message_type") == "PAXLST":
            upload.content = ""  # personal data: the lists are not kept twice
            fields.append("content")
        upload.save(update_fields=fields)
        live.publish_on_commit(
            groups=[live.organisation_group(upload.organisation_id)],
            event=events.import_progress(upload),
        )
    return upload


def _process(upload: EdifactImport) -> tuple[str, dict]:
    try:
        result = _parse(upload.content)
    except edifact.Unreadable as error:
        return EdifactImport.Status.FAILED, {"error": str(error)}
    summary = result.summary()
    if upload.organisation.kind == Organisation.Kind.TERMINAL_OPERATOR and any(
        m["type"] == "CODECO" for m in summary.get("messages", [])
    ):
        summary["gate"] = terminal_moves.report_gate_moves(upload, result)
    elif upload.organisation.kind == Organisation.Kind.TERMINAL_OPERATOR:
        _compare_vessel(upload.port_call, result)
        try:
            summary["discharge"] = terminal_moves.report_discharges(upload, result)
        except (InvalidInput, NotYours) as error:
            text = (
                " ".join(terminal_moves.error_messages(error.errors))
                if isinstance(error, InvalidInput)
                else ""
            )
            summary["error"] = text or _("No such port call at your terminal.")
            return EdifactImport.Status.FAILED, summary
    elif upload.port_call_id:
        summary["imported"] = _import_into(
            upload.port_call, upload.organisation, result, actor=upload.created_by
        )
    summary["warnings"] = result.warnings
    summary["outcome"] = outcome(summary)
    return EdifactImport.Status.DONE, summary


def edifact_import_requeue_stuck(*, older_than_seconds: int = 300) -> list[int]:
    """Queue imports again that a lost task left queued or processing (Celery beat).

    Each is touched as it is queued, so the next sweep leaves it alone for a while; after
    MAX_IMPORT_ATTEMPTS it is failed instead, so a file that kills its worker is not
    retried for ever. The import task is idempotent. Returns the ids queued again.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = EdifactImport.objects.filter(
        status__in=[EdifactImport.Status.QUEUED, EdifactImport.Status.PROCESSING],
        updated_at__lt=cutoff,
    )
    with transaction.atomic():
        # skip_locked: an import a worker is writing right now holds its row; leave it be.
        rows = list(
            stuck.select_for_update(skip_locked=True)
            .order_by("updated_at")
            .values_list("pk", "attempts")[:500]
        )
        spent = [pk for pk, attempts in rows if attempts >= MAX_IMPORT_ATTEMPTS]
        ids = [pk for pk, attempts in rows if attempts < MAX_IMPORT_ATTEMPTS]
        EdifactImport.objects.filter(pk__in=spent).update(
            status=EdifactImport.Status.FAILED,
            summary={"error": _("The import did not finish after several attempts.")},
            updated_at=timezone.now(),
        )
        EdifactImport.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        outbox.enqueue_many((edifact_import_run_task.name, {"import_id": pk}) for pk in ids)
        return ids
