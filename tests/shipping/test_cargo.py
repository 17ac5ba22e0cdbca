import pytest
from django.core.exceptions import PermissionDenied

from declarations import services as declaration_services
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import Organisation, TimelineEvent, User
from shipping import cargo, queries, services
from shipping.models import DangerousGoodsFlag, ManifestEntry
from tests.conftest import container_number
from tests.shipping.conftest import submit

K = DangerousGoodsFlag.Kind
APPROVED_DG = "CBHU6411248"
WRONG_CLASS = container_number(101)
ONLY_IN_FAL7 = container_number(102)
TWO_WEIGHTS = container_number(103)
FIREWORKS = container_number(104)
TWO_UN = container_number(105)
CLEAN = container_number(106)


def line(bl, number, **fields):
    return cargo.ManifestLineInput(bl_number=bl, container_number=number, **fields)


def fal7(number, un, imdg_class, mass="1000"):
    return {
        "container_number": number,
        "un_number": un,
        "imdg_class": imdg_class,
        "packing_group": "II",
        "proper_shipping_name": "Goods",
        "gross_mass_kg": mass,
    }


@pytest.fixture
def planted(ship):
    """A call whose manifests, declaration and FAL 7 list disagree in known ways."""
    other_agent = Organisation.objects.create(
        name="Second Line Agency", kind=Organisation.Kind.SHIPPING_AGENT, port=ship.call.port
    )
    other_user = User.objects.create(username="second-agent")
    other_agent.memberships.create(user=other_user, role="declarant")
    cargo.manifest_add_lines(
        user=ship.agent,
        port_call_id=ship.call.pk,
        source="api",
        lines=[
            line("COSU100", APPROVED_DG, un_number="2735", imdg_class="8", gross_weight_kg="25000"),
            line("COSU100", WRONG_CLASS, un_number="1203", imdg_class="8", gross_weight_kg="20000"),
            line("COSU101", ONLY_IN_FAL7, gross_weight_kg="18000"),
            line("COSU102", TWO_WEIGHTS, gross_weight_kg="12000"),
            line("COSU103", FIREWORKS, gross_weight_kg="9000"),
            line("COSU104", TWO_UN, un_number="1090", imdg_class="3", gross_weight_kg="9000"),
            line("COSU105", CLEAN, gross_weight_kg="9000", description="Ceramic tiles"),
        ],
    )
    cargo.manifest_add_lines(
        user=other_user,
        port_call_id=ship.call.pk,
        source="api",
        lines=[
            line("MSKU900", TWO_WEIGHTS, gross_weight_kg="15000"),
        ],
    )
    declaration_services.declaration_file(
        user=ship.demo.importer,
        enterprise_id=None,
        port_call_id=ship.call.pk,
        bl_number="COSU103",
        container_numbers=[FIREWORKS],
        items=[
            declaration_services.ItemInput(
                hs_code="3604100000",
                description="Fireworks",
                quantity="900",
                unit="kg",
                value="50000",
                origin_country="CN",
            )
        ],
    )
    filing = submit(
        ship,
        dangerous_goods=[
            fal7(APPROVED_DG, "2735", "8", mass="21000"),
            fal7(ONLY_IN_FAL7, "1830", "8"),
            fal7(TWO_UN, "1230", "3"),
        ],
    )
    return filing


def findings(call):
    return sorted(
        DangerousGoodsFlag.objects.filter(port_call=call, status="open").values_list(
            "container_number", "kind"
        )
    )


def test_cross_check_flags_every_planted_inconsistency(ship, planted):
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)

    assert findings(ship.call) == sorted(
        [
            (APPROVED_DG, K.NO_MARITIME_APPROVAL),
            (WRONG_CLASS, K.NOT_DECLARED_EVERYWHERE),
            (WRONG_CLASS, K.CLASS_MISMATCH),
            (WRONG_CLASS, K.NO_MARITIME_APPROVAL),
            (ONLY_IN_FAL7, K.NOT_DECLARED_EVERYWHERE),
            (ONLY_IN_FAL7, K.NO_MARITIME_APPROVAL),
            (TWO_WEIGHTS, K.WEIGHT_MISMATCH),
            (FIREWORKS, K.NOT_DECLARED_EVERYWHERE),
            (FIREWORKS, K.NO_MARITIME_APPROVAL),
            (TWO_UN, K.UN_NUMBER_MISMATCH),
            (TWO_UN, K.NO_MARITIME_APPROVAL),
        ]
    )
    flag = DangerousGoodsFlag.objects.get(container_number=WRONG_CLASS, kind=K.CLASS_MISMATCH)
    assert flag.message == (
        "UN1203 (Motor spirit (gasoline)) is class 3; the manifest says class 8."
    )
    fireworks = DangerousGoodsFlag.objects.get(
        container_number=FIREWORKS, kind=K.NOT_DECLARED_EVERYWHERE
    )
    assert fireworks.message == "Dangerous in the declaration, not in the manifest, FAL 7."
    weights = DangerousGoodsFlag.objects.get(container_number=TWO_WEIGHTS)
    assert weights.message == "The manifests give gross weights from 12000.0 kg to 15000.0 kg."
    assert TimelineEvent.objects.get(kind="shipping.dg_checked").data == {
        "open": 11,
        "new": 11,
        "resolved": 0,
    }


def test_cross_check_is_idempotent_and_a_maritime_approval_resolves_its_flags(ship, planted):
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)
    assert DangerousGoodsFlag.objects.count() == 11

    review = planted.reviews.get(agency_kind="maritime_safety")
    services.review_decide(
        review_id=review.pk, user=ship.reviewers["maritime_safety"], decision="approved"
    )
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)

    open_kinds = {kind for _number, kind in findings(ship.call)}
    assert (APPROVED_DG, K.NO_MARITIME_APPROVAL) not in findings(ship.call)
    assert (WRONG_CLASS, K.NO_MARITIME_APPROVAL) in findings(ship.call)  # not on the FAL 7
    assert K.NO_MARITIME_APPROVAL in open_kinds
    resolved = DangerousGoodsFlag.objects.filter(status="resolved")
    assert sorted(resolved.values_list("container_number", flat=True)) == sorted(
        [APPROVED_DG, ONLY_IN_FAL7, TWO_UN]
    )
    assert TimelineEvent.objects.filter(kind="shipping.dg_flag_resolved").count() == 3


def test_fal7_heavier_than_the_container_is_a_weight_finding(ship):
    cargo.manifest_add_lines(
        user=ship.agent,
        port_call_id=ship.call.pk,
        source="api",
        lines=[
            line("COSU100", APPROVED_DG, un_number="2735", imdg_class="8", gross_weight_kg="8000"),
        ],
    )
    submit(ship, dangerous_goods=[fal7(APPROVED_DG, "2735", "8", mass="21000")])

    cargo.dangerous_goods_check(port_call_id=ship.call.pk)

    flag = DangerousGoodsFlag.objects.get(kind=K.WEIGHT_MISMATCH)
    assert flag.message == (
        "The FAL 7 list gives 21000.0 kg of dangerous goods; the manifest's gross weight "
        "is 8000.0 kg."
    )


def test_manifest_refuses_bad_lines_field_by_field_and_writes_nothing(ship):
    with pytest.raises(InvalidInput) as refused:
        cargo.manifest_add_lines(
            user=ship.agent,
            port_call_id=ship.call.pk,
            source="api",
            lines=[
                line("COSU100", "CBHU6411240", gross_weight_kg="-5"),
                line("", CLEAN, un_number="12", imdg_class="11", hs_code="123"),
                line("COSU105", CLEAN),
                line("COSU105", CLEAN),
            ],
        )

    errors = refused.value.errors["lines"]
    assert set(errors["0"]) == {"container_number", "gross_weight_kg"}
    assert set(errors["1"]) == {"bl_number", "un_number", "imdg_class", "hs_code"}
    assert set(errors["3"]) == {"container_number"}
    assert "2" not in errors
    assert ManifestEntry.objects.exists() is False
    assert TimelineEvent.objects.exists() is False


def test_only_shipping_agents_submit_manifests(ship):
    with pytest.raises(PermissionDenied):
        cargo.manifest_add_lines(
            user=ship.demo.importer,
            port_call_id=ship.call.pk,
            source="api",
            lines=[line("COSU1", CLEAN)],
        )
    assert ManifestEntry.objects.exists() is False


def test_maritime_officer_resolves_a_flag_and_others_cannot(ship, planted):
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)
    flag = DangerousGoodsFlag.objects.get(container_number=TWO_WEIGHTS)

    with pytest.raises(PermissionDenied):
        cargo.dg_flag_resolve(flag_id=flag.pk, user=ship.reviewers["customs_office"], note="ok")
    with pytest.raises(InvalidInput):
        cargo.dg_flag_resolve(flag_id=flag.pk, user=ship.reviewers["maritime_safety"], note=" ")
    flag.refresh_from_db()
    assert flag.status == "open"

    cargo.dg_flag_resolve(
        flag_id=flag.pk,
        user=ship.reviewers["maritime_safety"],
        note="VGM certificate checked: 15,000 kg",
    )
    flag.refresh_from_db()
    assert (flag.status, flag.resolved_by) == ("resolved", ship.reviewers["maritime_safety"])
    with pytest.raises(TransitionNotAllowed):
        cargo.dg_flag_resolve(flag_id=flag.pk, user=ship.reviewers["maritime_safety"], note="x")


def test_flags_reach_only_the_maritime_queue(ship, planted):
    cargo.dangerous_goods_check(port_call_id=ship.call.pk)

    assert queries.dg_flag_queue(user=ship.reviewers["maritime_safety"]).count() == 11
    assert queries.dg_flag_queue(user=ship.reviewers["customs_office"]).count() == 0
    assert queries.dg_flag_queue(user=ship.agent).count() == 0
