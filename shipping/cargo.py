"""Services for the cargo side of a call: every write to the manifest, EDIFACT imports and the
dangerous-goods cross-check (services.py holds the call lifecycle, filings and boardings)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations.queries import declared_goods_for_call
from port import identifiers, limits, live, outbox
from port.errors import InvalidInput, NotYours, TransitionNotAllowed
from port.models import Membership, Organisation, PortCall, TimelineEvent, User
from port.timeline import timeline_record, timeline_record_many
from shipping import cuscar, edifact, events, paxlst, reference
from shipping.import_outcome import outcome
from shipping.models import (
    AgencyReview,
    DangerousGoodsFlag,
    EdifactImport,
    FilingDangerousGood,
    ManifestConsignment,
    ManifestEntry,
    VesselFiling,
)
from shipping.tasks import (
    dangerous_goods_check_task,
    edifact_import_run_task,
    port_call_berthed_task,
)

Flag = DangerousGoodsFlag
MOVE_TIME_SLACK_BEFORE_ATA = timedelta(hours=1)
MOVE_TIME_SLACK_AFTER_NOW = timedelta(minutes=5)
# A file whose import was queued again this many times and still did not finish is failed.
MAX_IMPORT_ATTEMPTS = 3
# Manifests from different companies weigh the same container; beyond this they disagree.
WEIGHT_TOLERANCE = Decimal("0.01")
# Terminal moves read from EDIFACT (COARRI discharges, CODECO gate moves) are recorded by
# the app that owns container whereabouts and the gate. It registers its services here in its
# AppConfig.ready, as with services.BERTHED_HOOKS, so this app never imports it:
#   "discharge": fn(*, user, port_call_id, container_numbers, at, times, skip_unknown) -> dict
#   "gate": fn(*, user, container_number, direction, idempotency_key) -> event (.allowed, .reason)
TERMINAL_REPORTERS: dict = {}
MANIFEST_FIELDS = [
    "source",
    "size_type",
    "seal_number",
    "gross_weight_kg",
    "description",
    "hs_code",
    "un_number",
    "imdg_class",
    "packing_group",
    "stowage_position",
    "updated_at",
]


@dataclass(frozen=True)
class ManifestLineInput:
    bl_number: str
    container_number: str
    gross_weight_kg: Decimal | str | None = None
    seal_number: str = ""
    description: str = ""
    hs_code: str = ""
    un_number: str = ""
    imdg_class: str = ""
    packing_group: str = ""
    stowage_position: str = ""
    size_type: str = ""


# --- Manifest --------------------------------------------------------------------------------


@transaction.atomic
def manifest_add_lines(
    *, user: User, port_call_id: int, lines: list[ManifestLineInput], source: str
) -> list[ManifestEntry]:
    """Add or replace lines of the user's company's manifest for a call, in one batch.

    A line is keyed by (company, B/L, container): sending it again replaces it. Writes one
    timeline event for the batch; after commit runs the dangerous-goods cross-check.
    Raises InvalidInput with every bad line's field errors; writes nothing then.
    """
    organisation = _manifest_company(user)
    if message := limits.list_error(lines, maximum=limits.MAX_MANIFEST_LINES):
        raise InvalidInput({"lines": [message]})
    call = PortCall.objects.filter(pk=port_call_id).first()
    errors: dict = {}
    if call is None:
        errors["port_call"] = [_("Choose a port call.")]
    rows, problems = [], {}
    for index, line in enumerate(lines):
        row, found = _validate_line(line)
        rows.append(row)
        if found:
            problems[str(index)] = found
    first_index: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        key = (row["bl_number"], row["container_number"])
        if first_index.setdefault(key, index) != index:
            problems.setdefault(str(index), {})["container_number"] = [
                _("This container is already on B/L %(bl)s in this batch.") % {"bl": key[0]}
            ]
    if not lines:
        errors["lines"] = [_("Send at least one manifest line.")]
    if problems:
        errors["lines"] = problems
    if errors:
        raise InvalidInput(errors)
    return _write_manifest(call, organisation, rows, source=source, actor=user)


def _write_manifest(call, organisation, rows, *, source: str, actor: User | None) -> list:
    entries = ManifestEntry.objects.bulk_create(
        [
            ManifestEntry(port_call=call, submitted_by=organisation, source=source, **row)
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["port_call", "submitted_by", "bl_number", "container_number"],
        update_fields=MANIFEST_FIELDS,
    )
    timeline_record(
        subject=call,
        kind=TimelineEvent.Kind.MANIFEST_CHANGED,
        actor=actor,
        organisation=organisation,
        data={"source": source, "lines": len(rows)},
    )
    outbox.enqueue(dangerous_goods_check_task.name, port_call_id=call.pk)
    if call.status == PortCall.Status.BERTHED:
        # Lines added once the vessel is alongside are planned as its berthing planned the
        # rest: the berthing hooks are idempotent and leave planned containers alone.
        outbox.enqueue(port_call_berthed_task.name, port_call_id=call.pk)
    return entries


def _validate_line(line: ManifestLineInput) -> tuple[dict, dict]:
    row = {
        "bl_number": (line.bl_number or "").strip().upper(),
        "container_number": identifiers.normalise_container_number(line.container_number),
        "seal_number": (line.seal_number or "").strip()[:20],
        "description": (line.description or "").strip(),
        "hs_code": (line.hs_code or "").strip(),
        "un_number": (line.un_number or "").strip().upper().removeprefix("UN"),
        "imdg_class": (line.imdg_class or "").strip(),
        "packing_group": (line.packing_group or "").strip().upper(),
        "stowage_position": (line.stowage_position or "").strip(),
        "size_type": (line.size_type or "").strip().upper(),
    }
    found: dict = {}
    if not identifiers.BL_NUMBER_PATTERN.match(row["bl_number"]):
        found["bl_number"] = [_("A B/L number has 4 to 35 letters, digits, - or /.")]
    _check(found, "container_number", identifiers.validate_container_number, row)
    if row["hs_code"]:
        _check(found, "hs_code", identifiers.validate_hs_code, row)
    if row["un_number"] or row["imdg_class"]:
        _check(found, "un_number", reference.validate_un_number, row)
        _check(found, "imdg_class", reference.validate_imdg_class, row)
    _check(found, "packing_group", reference.validate_packing_group, row)
    if row["stowage_position"]:
        _check(found, "stowage_position", reference.validate_stowage, row)
    row["gross_weight_kg"] = None
    if line.gross_weight_kg not in (None, ""):
        row["gross_weight_kg"], message = limits.decimal_error(
            line.gross_weight_kg,
            max_digits=10,
            decimal_places=1,
            above_minimum=True,
            message=_("Enter the gross weight in kg, more than 0."),
        )
        if message:
            found["gross_weight_kg"] = [message]
    return row, found


def _check(found: dict, name: str, validator, row: dict) -> None:
    try:
        validator(row[name])
    except ValidationError as error:
        found[name] = [str(m) for m in error.messages]


def _manifest_company(user: User) -> Organisation:
    company = (
        Organisation.objects.filter(kind=Organisation.Kind.SHIPPING_AGENT, memberships__user=user)
        .order_by("pk")
        .first()
    )
    if company is None:
        raise PermissionDenied(_("Only shipping agents submit cargo manifests."))
    return company


# --- EDIFACT imports -------------------------------------------------------------------------


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
        _write_manifest(call, organisation, rows, source=ManifestEntry.Source.EDIFACT, actor=actor)
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
        _write_manifest(
            call, organisation, list(rows.values()), source=ManifestEntry.Source.EDIFACT,
            actor=actor,
        )  # fmt: skip
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
        summary["gate"] = _report_gate_moves(upload, result)
    elif upload.organisation.kind == Organisation.Kind.TERMINAL_OPERATOR:
        try:
            summary["discharge"] = _report_discharges(upload, result)
        except (InvalidInput, NotYours) as error:
            text = " ".join(_messages(error.errors)) if isinstance(error, InvalidInput) else ""
            summary["error"] = text or _("No such port call at your terminal.")
            return EdifactImport.Status.FAILED, summary
    elif upload.port_call_id:
        summary["imported"] = _import_into(
            upload.port_call, upload.organisation, result, actor=upload.created_by
        )
    summary["warnings"] = result.warnings
    summary["outcome"] = outcome(summary)
    return EdifactImport.Status.DONE, summary


def _messages(errors) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    return [str(m) for m in errors]


def _report_discharges(upload: EdifactImport, result: edifact.Result) -> dict:
    """Report the containers of the file's COARRI discharge messages through the diversion
    service, as the terminal's page and API do; the rest of the file is only read."""
    call = upload.port_call
    _compare_vessel(call, result)
    moved = result.containers_moved("discharge")
    others = len(result.containers) - len(moved)
    if others:
        result.warnings.append(
            f"{others} containers are in messages that are not discharge reports "
            "(loading, restow or other); they were read, not recorded."
        )
    if not moved:
        raise InvalidInput(
            {"file": [_("The file holds no container in a COARRI discharge report.")]}
        )
    reported = _reporter("discharge")(
        user=upload.created_by,
        port_call_id=call.pk,
        container_numbers=[c.number for c in moved],
        at=timezone.now(),
        times=_move_times(call, moved, result),
        skip_unknown=True,
    )
    return {"port_call": call.pk, **reported}


# CODECO BGM document codes (SMDG / ITIGG guidelines, standards.md 1.2): gate-in, gate-out.
CODECO_DIRECTIONS = {"34": "in", "36": "out"}


def _report_gate_moves(upload: EdifactImport, result: edifact.Result) -> dict:
    """Report each container of the file's CODECO messages through the gate service the JSON
    gate API uses (the "gate" reporter: inspection.services.gate_report), so the same refusals
    and alarms apply. Re-running the import reports nothing twice (one idempotency key per
    file, message and container)."""
    report_gate = _reporter("gate")
    directions = {}
    for message in result.messages:
        direction = (
            CODECO_DIRECTIONS.get(message["document"]) if message["type"] == "CODECO" else None
        )
        if message["type"] == "CODECO" and direction is None:
            result.warnings.append(
                f"CODECO message {message['reference']}: document code "
                f"{message['document'] or '(none)'} is neither gate-in (34) nor gate-out (36); "
                "its containers were read, not reported."
            )
        directions[message["reference"]] = direction
    passed, refused, unknown = [], [], []
    for container in result.containers:
        direction = directions.get(container.message)
        if direction is None:
            continue
        key = f"codeco:{upload.pk}:{container.message}:{container.number}"[:100]
        try:
            event = report_gate(
                user=upload.created_by,
                container_number=container.number,
                direction=direction,
                idempotency_key=key,
            )
        except InvalidInput as error:
            unknown.append({"container": container.number, "segment": container.segment,
                            "reason": " ".join(_messages(error.errors))})  # fmt: skip
            continue
        entry = {"container": container.number, "direction": direction}
        if event.allowed:
            passed.append(entry)
        else:
            refused.append({**entry, "segment": container.segment, "reason": event.reason})
    return {"passed": passed, "refused_at_gate": refused, "not_reported": unknown}


def _reporter(move: str):
    try:
        return TERMINAL_REPORTERS[move]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered shipping.cargo.TERMINAL_REPORTERS[{move!r}]."
        ) from None


def _move_times(call: PortCall, containers: list, result: edifact.Result) -> dict:
    """Each container's DTM+203 move time, read in the port's time zone (EDIFACT times
    carry none), when it falls within the call's stay; otherwise the import's time."""
    now = timezone.now()
    # The recorded ATA may lag the first lift by a while; a clock may run a little fast.
    earliest = (call.ata or now) - MOVE_TIME_SLACK_BEFORE_ATA
    latest = now + MOVE_TIME_SLACK_AFTER_NOW
    times, outside = {}, []
    for container in containers:
        if not container.moved_at:
            continue
        moment = timezone.make_aware(datetime.fromisoformat(container.moved_at))
        if earliest <= moment <= latest:
            times[container.number] = moment
        else:
            outside.append(container.number)
    if outside:
        result.warnings.append(
            f"The move time (DTM+203) of {', '.join(outside)} is outside the call's stay; "
            "the time of the import is recorded instead."
        )
    return times


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


# --- Dangerous-goods cross-check -------------------------------------------------------------


@transaction.atomic
def dangerous_goods_check(*, port_call_id: int) -> list[DangerousGoodsFlag]:
    """Merge a call's manifests, declarations and FAL 7 lists and flag what disagrees.

    Opens a flag per new finding (one per container and kind), resolves open flags that no
    longer hold, records one timeline event, and after commit tells the maritime officers.
    Idempotent: a second run with nothing changed writes only the timeline event.
    """
    call = PortCall.objects.select_for_update().get(pk=port_call_id)  # one check at a time
    findings = _findings(call)
    open_flags = {
        (f.container_number, f.kind): f
        for f in Flag.objects.filter(port_call=call, status=Flag.Status.OPEN)
    }
    new = [
        Flag(port_call=call, container_number=number, kind=kind, message=message[:300])
        for (number, kind), message in sorted(findings.items())
        if (number, kind) not in open_flags
    ]
    Flag.objects.bulk_create(new)
    gone = [flag for key, flag in open_flags.items() if key not in findings]
    _resolve_many(gone, note=_("No longer found by the cross-check."))
    still_open = len(findings)
    timeline_record(
        subject=call,
        kind=TimelineEvent.Kind.DG_CHECKED,
        actor=None,
        organisation=call.agent,
        data={"open": still_open, "new": len(new), "resolved": len(gone)},
    )
    live.publish_on_commit(
        groups=[events.port_call_group(call.pk), *_maritime_groups(call)],
        event=events.dangerous_goods_checked(call.pk, still_open),
    )
    return list(Flag.objects.filter(port_call=call, status=Flag.Status.OPEN))


def _findings(call: PortCall) -> dict[tuple[str, str], str]:
    manifest: dict[str, list[ManifestEntry]] = {}
    for entry in ManifestEntry.objects.filter(port_call=call).select_related("submitted_by"):
        manifest.setdefault(entry.container_number, []).append(entry)
    fal7: dict[str, list[FilingDangerousGood]] = {}
    live_filings = VesselFiling.objects.filter(port_call=call).exclude(
        status=VesselFiling.Status.REJECTED
    )
    for good in FilingDangerousGood.objects.filter(filing__in=live_filings):
        fal7.setdefault(good.container_number, []).append(good)
    approved = set(
        FilingDangerousGood.objects.filter(
            filing__in=live_filings,
            filing__reviews__agency_kind=Organisation.Kind.MARITIME_SAFETY,
            filing__reviews__status=AgencyReview.Status.APPROVED,
        ).values_list("container_number", flat=True)
    )
    declared = declared_goods_for_call(port_call_id=call.pk)
    # Before the agent files, the FAL 7 list is unknown rather than empty.
    fal7_filed = live_filings.exists()
    findings: dict[tuple[str, str], str] = {}
    for number in sorted(set(manifest) | set(fal7) | set(declared)):
        _check_container(
            number,
            manifest.get(number, []),
            fal7.get(number, []) if fal7_filed else None,
            declared.get(number, set()),
            approved,
            findings,
        )
    return findings


def _check_container(number, lines, goods, hs_codes, approved, findings) -> None:
    """Add the findings for one container; `goods` is its FAL 7 lines, None when unfiled."""
    says_fal7 = goods
    goods = goods or []
    dangerous_lines = [line for line in lines if line.is_dangerous]
    dangerous_headings = sorted(
        {code[:4] for code in hs_codes if code[:4] in reference.dangerous_hs_headings()}
    )
    says = {
        _("manifest"): bool(dangerous_lines) if lines else None,
        _("FAL 7"): None if says_fal7 is None else bool(goods),
        _("declaration"): bool(dangerous_headings) if hs_codes else None,
    }
    yes = [source for source, value in says.items() if value]
    # The declaration's commodity code is a hint only: it flags, but is not required to agree.
    no = [source for source, value in says.items() if value is False and source != _("declaration")]
    if yes and no:
        findings[(number, Flag.Kind.NOT_DECLARED_EVERYWHERE)] = _(
            "Dangerous in the %(yes)s, not in the %(no)s."
        ) % {"yes": ", ".join(yes), "no": ", ".join(no)}
    pairs = [(line.un_number, line.imdg_class, _("manifest")) for line in dangerous_lines]
    pairs += [(good.un_number, good.imdg_class, _("FAL 7")) for good in goods]
    un_numbers = sorted({un for un, _class, _source in pairs if un})
    if len(un_numbers) > 1:
        findings[(number, Flag.Kind.UN_NUMBER_MISMATCH)] = _(
            "The sources give different UN numbers: %(numbers)s."
        ) % {"numbers": ", ".join(f"UN{un}" for un in un_numbers)}
    for un, imdg_class, source in pairs:
        entry = reference.un_table().get(un)
        if entry and imdg_class and not reference.same_class(imdg_class, entry.imdg_class):
            findings[(number, Flag.Kind.CLASS_MISMATCH)] = _(
                "UN%(un)s (%(name)s) is class %(listed)s; the %(source)s says class %(declared)s."
            ) % {
                "un": un,
                "name": entry.proper_shipping_name,
                "listed": entry.imdg_class,
                "source": source,
                "declared": imdg_class,
            }
    _check_weights(number, lines, goods, findings)
    if yes and number not in approved:
        findings[(number, Flag.Kind.NO_MARITIME_APPROVAL)] = _(
            "Dangerous goods without a maritime safety approval of a FAL 7 list naming them."
        )


def _check_weights(number, lines, goods, findings) -> None:
    weights = sorted({line.gross_weight_kg for line in lines if line.gross_weight_kg})
    if len(weights) > 1 and weights[-1] - weights[0] > weights[-1] * WEIGHT_TOLERANCE:
        findings[(number, Flag.Kind.WEIGHT_MISMATCH)] = _(
            "The manifests give gross weights from %(low)s kg to %(high)s kg."
        ) % {"low": weights[0], "high": weights[-1]}
        return
    dg_mass = sum((good.gross_mass_kg for good in goods), Decimal(0))
    if weights and dg_mass > weights[-1]:
        findings[(number, Flag.Kind.WEIGHT_MISMATCH)] = _(
            "The FAL 7 list gives %(dg)s kg of dangerous goods; the manifest's gross weight "
            "is %(gross)s kg."
        ) % {"dg": dg_mass, "gross": weights[-1]}


def _resolve_many(flags: list[DangerousGoodsFlag], *, note: str, actor: User | None = None):
    if not flags:
        return
    Flag.objects.filter(pk__in=[f.pk for f in flags], status=Flag.Status.OPEN).update(
        status=Flag.Status.RESOLVED,
        resolution_note=note,
        resolved_by=actor,
        updated_at=timezone.now(),
    )
    timeline_record_many(
        subjects=flags,
        kind=TimelineEvent.Kind.DG_FLAG_RESOLVED,
        organisation_id=None,
        actor=actor,
        data_for=lambda flag: {"from": "open", "to": "resolved", "kind": flag.kind, "note": note},
    )


@transaction.atomic
def dg_flag_resolve(*, flag_id: int, user: User, note: str) -> DangerousGoodsFlag:
    """A maritime officer closes a finding with a note. Raises PermissionDenied,
    InvalidInput (no note), TransitionNotAllowed (already resolved)."""
    if not Membership.objects.filter(
        user=user, organisation__kind=Organisation.Kind.MARITIME_SAFETY
    ).exists():
        raise PermissionDenied(_("Only maritime safety officers resolve these findings."))
    note = (note or "").strip()
    if not note:
        raise InvalidInput({"note": [_("Say how it was resolved.")]})
    flag = Flag.objects.select_for_update().get(pk=flag_id)
    if Flag.Status.RESOLVED not in Flag.TRANSITIONS[flag.status]:
        raise TransitionNotAllowed(obj=flag, old=flag.status, new=Flag.Status.RESOLVED)
    flag.status, flag.resolved_by, flag.resolution_note = Flag.Status.RESOLVED, user, note
    flag.save(update_fields=["status", "resolved_by", "resolution_note", "updated_at"])
    timeline_record(
        subject=flag,
        kind=TimelineEvent.Kind.DG_FLAG_RESOLVED,
        actor=user,
        organisation=None,
        data={"from": "open", "to": "resolved", "kind": flag.kind, "note": note},
    )
    call = flag.port_call
    live.publish_on_commit(
        groups=[events.port_call_group(call.pk), *_maritime_groups(call)],
        event=events.dangerous_goods_checked(
            call.pk, Flag.objects.filter(port_call=call, status=Flag.Status.OPEN).count()
        ),
    )
    return flag


def _maritime_groups(call: PortCall) -> list[str]:
    ids = Organisation.objects.filter(
        Q(port_id=call.port_id) | Q(port__isnull=True), kind=Organisation.Kind.MARITIME_SAFETY
    ).values_list("pk", flat=True)
    return [live.organisation_group(pk) for pk in ids]
