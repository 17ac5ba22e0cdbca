"""Reads about who a user is and what they may act for."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from port.models import Membership, Organisation, PortCall, User


def organisation_ids_for(user: User) -> list[int]:
    return list(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))


def organisations_for(user: User) -> QuerySet[Organisation]:
    return Organisation.objects.filter(memberships__user=user)


def user_organisation_kinds(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user).values_list("organisation__kind", flat=True))


def customs_office_ids_for(user: User) -> list[int]:
    return list(
        Membership.objects.filter(
            user=user,
            organisation__kind=Organisation.Kind.CUSTOMS_OFFICE,
            role__in=[Membership.Role.OFFICER, Membership.Role.SUPERVISOR],
        ).values_list("organisation_id", flat=True)
    )


def enterprises_filable_by(user: User) -> QuerySet[Organisation]:
    """Enterprises the user may file for: their own, and those that authorised their broker."""
    today = timezone.localdate()
    member_of = Membership.objects.filter(
        user=user, role__in=[Membership.Role.DECLARANT, Membership.Role.MANAGER]
    ).values("organisation_id")
    authorised = Q(
        broker_authorisations__broker__in=member_of,
        broker_authorisations__valid_from__lte=today,
    ) & (
        Q(broker_authorisations__valid_until__isnull=True)
        | Q(broker_authorisations__valid_until__gte=today)
    )
    own = Q(pk__in=member_of)
    return (
        Organisation.objects.filter(kind=Organisation.Kind.ENTERPRISE)
        .filter(own | authorised)
        .distinct()
        .order_by("name")
    )


def enterprises_filable_by_sql(*, user_id: int, today) -> tuple[str, list]:
    """`enterprises_filable_by` as one plain statement and its parameters (every column of
    the organisation, in field order), for the filing path, which sends its reads in one
    round trip; tests/declarations/test_intake.py checks that the two agree."""
    roles = [Membership.Role.DECLARANT, Membership.Role.MANAGER]
    columns = ", ".join(f'o."{f.column}"' for f in Organisation._meta.concrete_fields)
    member_of = (
        "SELECT m.organisation_id FROM port_membership m WHERE m.user_id = %s AND m.role = ANY(%s)"
    )
    return (
        f"SELECT {columns} FROM port_organisation o WHERE o.kind = %s AND (o.id IN ({member_of}) "  # noqa: S608 - names and constants of ours
        "OR EXISTS (SELECT 1 FROM port_brokerauthorisation b WHERE b.enterprise_id = o.id "
        f"AND b.broker_id IN ({member_of}) AND b.valid_from <= %s "
        "AND (b.valid_until IS NULL OR b.valid_until >= %s))) ORDER BY o.name",
        [Organisation.Kind.ENTERPRISE, user_id, roles, user_id, roles, today, today],
    )


def port_call_choices() -> QuerySet[PortCall]:
    """Calls a declaration may name: not yet departed."""
    return (
        PortCall.objects.exclude(status=PortCall.Status.DEPARTED)
        .select_related("vessel", "terminal", "port")
        .order_by("eta")
    )
