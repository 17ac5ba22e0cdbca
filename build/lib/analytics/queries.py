"""Who sees which dashboard, and the reads behind it (from the rollups, never raw history)."""

from dataclasses import dataclass

from django.http import Http404

from analytics import events
from port.models import Membership, Organisation, User

K = Organisation.Kind
# Members of these see the whole port; an enterprise sees its own consignments only.
PORT_WIDE_KINDS = {K.PORT_AUTHORITY, K.CUSTOMS_OFFICE, K.TERMINAL_OPERATOR}


@dataclass(frozen=True)
class Scope:
    port_wide: bool
    organisation_ids: tuple[int, ...] = ()

    @property
    def live_key(self) -> str:
        return events.PORT_KEY if self.port_wide else str(self.organisation_ids[0])


def scope_for(user: User) -> Scope | None:
    """What the user's statistics cover, or None when they have no dashboard."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Scope(port_wide=True)
    memberships = list(
        Membership.objects.filter(user=user).values_list("organisation_id", "organisation__kind")
    )
    if any(kind in PORT_WIDE_KINDS for _, kind in memberships):
        return Scope(port_wide=True)
    own = tuple(sorted(org_id for org_id, kind in memberships if kind == K.ENTERPRISE))
    return Scope(port_wide=False, organisation_ids=own) if own else None


def scope_or_404(user: User) -> Scope:
    scope = scope_for(user)
    if scope is None:
        raise Http404("No dashboard for this user")
    return scope


def dashboard_live_group(user: User, key: str) -> str | None:
    """The dashboard group for `key` ("port", or the enterprise's id) when it is the user's."""
    scope = scope_for(user)
    if scope is None:
        return None
    if scope.port_wide:
        return events.port_dashboard_group() if key == events.PORT_KEY else None
    if key.isdigit() and int(key) in scope.organisation_ids:
        return events.organisation_dashboard_group(int(key))
    return None
