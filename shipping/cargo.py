"""Services for the cargo side of a call: every write to the manifest and the dangerous-goods
cross-check (services.py holds the call lifecycle, filings and boardings;
edifact_imports.py the EDIFACT files that fill the manifest)."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations.queries import declared_goods_for_call
from port import identifiers, limits, live, outbox
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Membership, Organisation, PortCall, TimelineEvent, User
from port.timeline import timeline_record, timeline_record_many
from shipping import events, reference
from shipping.models import (
    AgencyReview,
    DangerousGoodsFlag,
    FilingDangerousGood,
    ManifestEntry,
    VesselFiling,
)
from shipping.tasks import dangerous_goods_check_task, port_call_berthed_task

Flag = DangerousGoodsFlag
# Manifests from different companies weigh the same container; beyond this they disagree.
WEIGHT_TOLERANCE = Decimal("0.01")
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
    return manifest_write_rows(
        port_call=call, organisation=organisation, rows=rows, source=source, actor=user
    )


def manifest_write_rows(
    *,
    port_call: PortCall,
    organisation: Organisation,
    rows: list[dict],
    source: str,
    actor: User | None,
) -> list[ManifestEntry]:
    """Write validated manifest rows of a company for a call (from its form, the API or an
    EDIFACT file): replaces the lines it sent before, records one timeline event and, after
    commit, queues the dangerous-goods check and, once the vessel is alongside, the
    berthing hooks. The caller holds the transaction."""
    entries = ManifestEntry.objects.bulk_create(
        [
            ManifestEntry(port_call=port_call, submitted_by=organisation, source=source, **row)
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["port_call", "submitted_by", "bl_number", "container_number"],
        update_fields=MANIFEST_FIELDS,
    )
    timeline_record(
        subject=port_call,
        kind=TimelineEvent.Kind.MANIFEST_CHANGED,
        actor=actor,
        organisation=organisation,
        data={"source": source, "lines": len(rows)},
    )
    outbox.enqueue(dangerous_goods_check_task.name, port_call_id=port_call.pk)
    if port_call.status == PortCall.Status.BERTHED:
        # Lines added once the vessel is alongside are planned as its berthing planned the
        # rest: the berthing hooks are idempotent and leave planned containers alone.
        outbox.enqueue(port_call_berthed_task.name, port_call_id=port_call.pk)
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
