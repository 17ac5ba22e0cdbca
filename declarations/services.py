"""Every write to declarations, and every status change."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from declarations import events
from declarations.models import Declaration, DeclarationContainer, DeclarationItem
from declarations.tasks import declaration_assess_task
from inspection import services as inspection_services
from port import identifiers, live
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Container, Organisation, PortCall, TimelineEvent, User
from port.queries import enterprises_filable_by, organisation_ids_for
from port.timeline import timeline_record


@dataclass(frozen=True)
class ItemInput:
    hs_code: str
    description: str
    quantity: Decimal | str
    value: Decimal | str
    origin_country: str
    unit: str = DeclarationItem.Unit.KG


@transaction.atomic
def declaration_file(
    *,
    user: User,
    enterprise_id: int | None,
    port_call_id: int | None,
    bl_number: str,
    container_numbers: list[str],
    items: list[ItemInput],
    direction: str = Declaration.Direction.IMPORT,
    idempotency_key: str = "",
) -> Declaration:
    """File a declaration and submit it for risk assessment.

    Writes the declaration, its containers and items, and timeline events for the filing
    and the draft-to-submitted transition. After commit, queues the assessment task and
    publishes the status. A repeat with the same idempotency key returns the first
    declaration unchanged. Raises InvalidInput with field-level messages; writes nothing then.
    """
    declarant = _declarant_for(user)
    if idempotency_key:
        earlier = Declaration.objects.filter(
            declarant=declarant, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return earlier

    enterprise, port_call, numbers, cleaned_items = _validate_filing(
        user=user,
        enterprise_id=enterprise_id,
        port_call_id=port_call_id,
        bl_number=bl_number,
        container_numbers=container_numbers,
        items=items,
        direction=direction,
    )
    try:
        with transaction.atomic():  # a savepoint, so a concurrent twin can be recovered
            declaration = Declaration.objects.create(
                direction=direction,
                enterprise=enterprise,
                declarant=declarant,
                created_by=user,
                port_call=port_call,
                bl_number=bl_number.strip().upper(),
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # The same key raced in from another request; the unique constraint kept one.
        return Declaration.objects.get(declarant=declarant, idempotency_key=idempotency_key)

    containers = _containers_for(numbers)
    DeclarationContainer.objects.bulk_create(
        DeclarationContainer(declaration=declaration, container=c) for c in containers
    )
    DeclarationItem.objects.bulk_create(
        DeclarationItem(declaration=declaration, line_number=n, **fields)
        for n, fields in enumerate(cleaned_items, start=1)
    )
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_FILED,
        actor=user,
        organisation=enterprise,
        data={"containers": numbers, "items": len(cleaned_items), "declarant": declarant.name},
    )
    return declaration_submit(declaration=declaration, user=user)


@transaction.atomic
def declaration_submit(*, declaration: Declaration, user: User) -> Declaration:
    """Submit a draft: assign its number and queue the risk assessment after commit."""
    declaration = Declaration.objects.select_for_update().get(pk=declaration.pk)
    declaration.number = _next_number(declaration)
    declaration.submitted_at = timezone.now()
    _set_status(
        declaration,
        Declaration.Status.SUBMITTED,
        actor=user,
        extra_fields=["number", "submitted_at"],
    )
    transaction.on_commit(partial(declaration_assess_task.delay, declaration.pk))
    return declaration


@transaction.atomic
def declaration_assess(*, declaration_id: int) -> Declaration:
    """Decide a submitted declaration: released, or inspection required.

    Asks the inspection rules for a decision per container and records the outcome.
    Running it again on a decided declaration changes nothing.
    """
    declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
    if declaration.status != Declaration.Status.SUBMITTED:
        return declaration  # already decided: a retried or duplicated task is a no-op
    decisions = inspection_services.decisions_make(declaration_id=declaration.pk)
    selected = [d.container.number for d in decisions if d.requires_inspection]
    new = Declaration.Status.INSPECTION_REQUIRED if selected else Declaration.Status.RELEASED
    declaration.decided_at = timezone.now()
    _set_status(
        declaration, new, actor=None, extra_fields=["decided_at"], data={"selected": selected}
    )
    return declaration


@transaction.atomic
def declaration_release(*, declaration_id: int, actor: User | None) -> Declaration:
    """Release a declaration whose selected containers customs has now cleared.

    Called by the inspection app once no container of it is held. Idempotent.
    """
    declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
    if declaration.status == Declaration.Status.RELEASED:
        return declaration
    _set_status(declaration, Declaration.Status.RELEASED, actor=actor)
    return declaration


def declaration_requeue_stuck(*, older_than_seconds: int = 120) -> list[int]:
    """Queue the assessment again for declarations left submitted by a lost task."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = list(
        Declaration.objects.filter(
            status=Declaration.Status.SUBMITTED, submitted_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for declaration_id in stuck:
        declaration_assess_task.delay(declaration_id)
    return stuck


def _set_status(
    declaration: Declaration,
    new: str,
    *,
    actor: User | None,
    extra_fields: list[str] = (),
    data: dict | None = None,
) -> None:
    old = declaration.status
    if new not in Declaration.TRANSITIONS[old]:
        raise TransitionNotAllowed(obj=declaration, old=old, new=new)
    declaration.status = new
    declaration.save(update_fields=["status", "updated_at", *extra_fields])
    timeline_record(
        subject=declaration,
        kind=TimelineEvent.Kind.DECLARATION_STATUS_CHANGED,
        actor=actor,
        organisation=declaration.enterprise,
        data={"from": old, "to": new, **(data or {})},
    )
    live.publish_on_commit(
        groups=events.declaration_groups(declaration),
        event=events.declaration_status_changed(declaration),
    )


def _declarant_for(user: User) -> Organisation:
    organisation = (
        Organisation.objects.filter(
            pk__in=organisation_ids_for(user),
            kind__in=[Organisation.Kind.ENTERPRISE, Organisation.Kind.CUSTOMS_BROKER],
        )
        .order_by("pk")
        .first()
    )
    if organisation is None:
        raise InvalidInput(
            {"enterprise": [_("Only enterprises and customs brokers file declarations.")]}
        )
    return organisation


def _next_number(declaration: Declaration) -> str:
    office = (
        Organisation.objects.filter(
            kind=Organisation.Kind.CUSTOMS_OFFICE, port=declaration.port_call.port_id
        )
        .exclude(office_code="")
        .values_list("office_code", flat=True)
        .first()
    ) or "0000"
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('declaration_number_serial')")
        (serial,) = cursor.fetchone()
    flag = "1" if declaration.direction == Declaration.Direction.IMPORT else "0"
    return f"{office}{timezone.localdate().year}{flag}{serial:09d}"


def _containers_for(numbers: list[str]) -> list[Container]:
    existing = {c.number: c for c in Container.objects.filter(number__in=numbers)}
    missing = [Container(number=n) for n in numbers if n not in existing]
    Container.objects.bulk_create(missing, ignore_conflicts=True)
    existing.update(
        {c.number: c for c in Container.objects.filter(number__in=[c.number for c in missing])}
    )
    return [existing[n] for n in numbers]


def _messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def _validate_filing(
    *, user, enterprise_id, port_call_id, bl_number, container_numbers, items, direction
):
    errors: dict = {}
    filable = enterprises_filable_by(user)
    if enterprise_id:
        enterprise = filable.filter(pk=enterprise_id).first()
        if enterprise is None:
            errors["enterprise"] = [_("You may not file for this enterprise.")]
    else:
        # With one enterprise to file for (an importer filing its own), it need not be named.
        candidates = list(filable[:2])
        enterprise = candidates[0] if len(candidates) == 1 else None
        if enterprise is None:
            errors["enterprise"] = [_("Choose the enterprise whose goods these are.")]

    port_call = None
    if not port_call_id:
        errors["port_call"] = [_("Choose the vessel call.")]
    else:
        port_call = (
            PortCall.objects.exclude(status=PortCall.Status.DEPARTED)
            .filter(pk=port_call_id)
            .first()
        )
        if port_call is None:
            errors["port_call"] = [_("There is no open port call with this id.")]

    if direction not in Declaration.Direction.values:
        errors["direction"] = [_("Direction is import or export.")]

    bl = (bl_number or "").strip().upper()
    if not bl:
        errors["bl_number"] = [_("The B/L number is required.")]
    elif not identifiers.BL_NUMBER_PATTERN.match(bl):
        errors["bl_number"] = [_("A B/L number has 4 to 35 letters, digits, - or /.")]

    numbers, container_errors = _validate_containers(container_numbers)
    if container_errors:
        errors["containers"] = container_errors

    cleaned_items, item_errors = _validate_items(items)
    if not items:
        errors["items"] = [_("Declare at least one goods item.")]
    elif item_errors:
        errors["items"] = item_errors

    if errors:
        raise InvalidInput(errors)
    return enterprise, port_call, numbers, cleaned_items


def _validate_containers(raw_numbers: list[str]) -> tuple[list[str], list[str]]:
    numbers = [identifiers.normalise_container_number(n) for n in raw_numbers if n.strip()]
    if not numbers:
        return [], [_("List at least one container.")]
    errors: list[str] = []
    for number in numbers:
        try:
            identifiers.validate_container_number(number)
        except ValidationError as error:
            errors.extend(_messages(error))
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        errors.append(_("Listed twice: %(numbers)s.") % {"numbers": ", ".join(duplicates)})
    return numbers, errors


def _validate_items(items: list[ItemInput]) -> tuple[list[dict], dict[str, dict]]:
    """Cleaned items, and errors keyed by the index of each bad item (as DRF reports them)."""
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        fields, item_errors = _validate_item(item)
        cleaned.append(fields)
        if item_errors:
            errors[str(index)] = item_errors
    return cleaned, errors


def _validate_item(item: ItemInput) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    hs_code = (item.hs_code or "").strip()
    try:
        identifiers.validate_hs_code(hs_code)
    except ValidationError as error:
        errors["hs_code"] = _messages(error)
    description = (item.description or "").strip()
    if not description:
        errors["description"] = [_("Describe the goods.")]
    quantity = _decimal(item.quantity)
    if quantity is None or quantity <= 0:
        errors["quantity"] = [_("The quantity must be a number above zero.")]
    value = _decimal(item.value)
    if value is None or value < 0:
        errors["value"] = [_("The value must be a number, zero or more.")]
    origin = (item.origin_country or "").strip().upper()
    try:
        identifiers.validate_country(origin)
    except ValidationError as error:
        errors["origin_country"] = _messages(error)
    if item.unit not in DeclarationItem.Unit.values:
        errors["unit"] = [_("Choose a unit from the list.")]
    fields = {
        "hs_code": hs_code,
        "description": description,
        "quantity": quantity,
        "unit": item.unit,
        "value": value,
        "origin_country": origin,
    }
    return fields, errors


def _decimal(raw) -> Decimal | None:
    try:
        number = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
