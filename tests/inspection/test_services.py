from inspection import queries, services
from inspection.models import Outcome, RiskRule
from port.models import InspectionArea, Membership, Organisation, Terminal, User


def rule(prefix: str, action: str, name: str) -> RiskRule:
    return RiskRule(
        pk=hash(name) % 1000,
        name=name,
        public_reason=f"{name} reason",
        hs_prefix=prefix,
        action=action,
    )


def test_goods_no_rule_matches_are_released():
    outcome, hits = services.rules_evaluate(
        hs_codes=["6907210000"], rules=[rule("0202", Outcome.QUARANTINE, "meat")]
    )

    assert (outcome, hits) == (Outcome.RELEASE, [])


def test_the_most_thorough_action_of_every_hit_wins_and_every_hit_is_kept():
    rules = [
        rule("02", Outcome.SCAN, "chapter 2"),
        rule("0202", Outcome.QUARANTINE, "meat"),
        rule("84", Outcome.MANUAL, "machines"),
    ]

    outcome, hits = services.rules_evaluate(hs_codes=["0202300090", "6907210000"], rules=rules)

    assert outcome == Outcome.QUARANTINE
    assert [hit["name"] for hit in hits] == ["chapter 2", "meat"]
    assert hits[1]["reason"] == "meat reason"


def test_an_officer_never_sees_another_customs_office_queue(demo, api_for):
    from declarations import services as declaration_services
    from tests.conftest import MEAT_ITEM, filing

    other_office = Organisation.objects.create(
        name="Xiamen Customs, Dongdu Office", kind="customs_office", office_code="3702"
    )
    songyu = Terminal.objects.get(code="SYCT")
    InspectionArea.objects.create(
        terminal=songyu, customs_office=other_office, code="IA2", name="Songyu Inspection Area"
    )
    other_officer = User.objects.create(username="officer2")
    Membership.objects.create(
        user=other_officer, organisation=other_office, role=Membership.Role.OFFICER
    )
    created = (
        api_for(demo.importer)
        .post("/api/v1/declarations/", filing(demo.port_call.pk, items=[MEAT_ITEM]), format="json")
        .json()
    )
    declaration_services.declaration_assess(declaration_id=created["id"])

    assert queries.inspection_queue(user=demo.officer).count() == 2
    assert queries.inspection_queue(user=other_officer).count() == 0
    assert queries.inspection_queue_live_group(other_officer, str(demo.customs.pk)) is None
    assert (
        queries.inspection_queue_live_group(demo.officer, str(demo.customs.pk))
        == f"inspection-queue.{demo.customs.pk}"
    )
