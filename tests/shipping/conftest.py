from types import SimpleNamespace

import pytest

from port.models import Organisation, User
from shipping import services
from shipping.models import VesselFiling
from tests.shipping.factories import filing_input


@pytest.fixture
def ship(demo):
    """The demo port plus the shipping agent and the five reviewing agencies' users."""
    users = {u.username: u for u in User.objects.all()}
    orgs = {o.kind: o for o in Organisation.objects.order_by("-pk")}
    return SimpleNamespace(
        demo=demo,
        call=demo.port_call,
        agent=users["agent"],
        agent_org=orgs[Organisation.Kind.SHIPPING_AGENT],
        reviewers={
            "customs_office": users["officer"],
            "maritime_safety": users["maritime"],
            "border_control": users["border"],
            "port_authority": users["portauth"],
            "terminal_operator": users["terminal"],
        },
    )


def submit(ship, direction=VesselFiling.Direction.ARRIVAL, **overrides) -> VesselFiling:
    return services.filing_submit(
        user=ship.agent,
        port_call_id=ship.call.pk,
        direction=direction,
        filing=filing_input(**overrides),
    )


@pytest.fixture
def filed(ship):
    return submit(ship)
