"""seed_demo's certificates of origin: applied for through the service, once."""

from django.core.management import call_command

from certificates.models import Certificate
from port.models import TimelineEvent, User
from tests.certificates.test_views import cjk_text


def by_key() -> dict[str, Certificate]:
    return {c.idempotency_key: c for c in Certificate.objects.select_related("issuing_office")}


def test_seed_demo_applies_for_demo_certificates_once(db):
    call_command("seed_demo", verbosity=0)
    first = {key: (c.pk, c.status, c.number) for key, c in by_key().items()}
    events = TimelineEvent.objects.count()

    call_command("seed_demo", verbosity=0)

    assert {key: (c.pk, c.status, c.number) for key, c in by_key().items()} == first
    assert TimelineEvent.objects.count() == events
    assert {key: status for key, (_pk, status, _number) in first.items()} == {
        "demo-co-issued": "issued",
        "demo-co-review": "under_review",
        "demo-co-correction": "correction_requested",
        "demo-co-xiangyu": "under_review",
    }
    # Each went through the service: applied, reviewed, one status change each, and the
    # incomplete one returned for correction by the officer.
    assert TimelineEvent.objects.filter(kind="certificate.applied").count() == 4
    assert TimelineEvent.objects.filter(kind="certificate.status_changed").count() == 5
    returned = TimelineEvent.objects.get(
        kind="certificate.status_changed", data__to="correction_requested"
    )
    assert (returned.actor.username, returned.data["from"]) == ("officer", "under_review")
    assert by_key()["demo-co-correction"].correction_fields == [
        "importer_address",
        "vessel_name",
        "departure_date",
    ]


def test_the_demo_certificates_show_each_step_of_the_workflow(db, client):
    call_command("seed_demo", verbosity=0)
    certificates = by_key()
    failed = {
        key: [check["check"] for check in c.review if not check["passed"]]
        for key, c in certificates.items()
    }

    assert failed == {
        "demo-co-issued": [],
        "demo-co-review": ["regional_value_content"],
        "demo-co-correction": ["complete"],
        "demo-co-xiangyu": ["regional_value_content"],
    }
    correction = next(c for c in certificates["demo-co-correction"].review if not c["passed"])
    assert correction["message"] == "Missing: importer address, vessel, departure date."
    offices = {key: c.issuing_office.office_code for key, c in certificates.items()}
    assert offices == {
        "demo-co-issued": "3701",
        "demo-co-review": "3701",
        "demo-co-correction": "3701",
        "demo-co-xiangyu": "3703",
    }


def test_the_issued_demo_certificate_prints_with_its_chinese_consignee(db, client):
    call_command("seed_demo", verbosity=0)
    issued = by_key()["demo-co-issued"]
    client.force_login(User.objects.get(username="exporter"))

    response = client.get(f"/certificates/{issued.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = cjk_text(response.content)
    assert issued.number in text
    assert "西贡家居建材股份公司" in text


def test_each_demo_officer_has_only_its_offices_reviews(db, client):
    call_command("seed_demo", verbosity=0)
    certificates = by_key()

    client.force_login(User.objects.get(username="officer"))
    haicang = client.get("/certificates/reviews/").content.decode()
    client.force_login(User.objects.get(username="xiangyu"))
    xiangyu = client.get("/certificates/reviews/").content.decode()

    def linked(key: str, page: str) -> bool:
        return f'href="/certificates/{certificates[key].pk}/"' in page

    # The returned application waits for the exporter, not in the officer's queue.
    assert [linked(k, haicang) for k in ("demo-co-review", "demo-co-correction")] == [True, False]
    assert linked("demo-co-xiangyu", haicang) is False
    assert linked("demo-co-xiangyu", xiangyu) is True
    assert linked("demo-co-review", xiangyu) is False


def test_seed_demo_without_certificates_leaves_the_timeline_empty(db):
    call_command("seed_demo", certificates=False, verbosity=0)

    assert Certificate.objects.exists() is False
    assert TimelineEvent.objects.exists() is False
