import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from port.models import BrokerAuthorisation, Membership, Organisation, PortCall, User

ROOT = Path(__file__).resolve().parents[2]


def test_models_and_migrations_agree(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_deploy_check_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "port.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_seed_demo_twice_loads_the_port_once(db):
    call_command("seed_demo", verbosity=0)
    counts = [Organisation.objects.count(), User.objects.count(), PortCall.objects.count()]

    call_command("seed_demo", verbosity=0)

    assert [Organisation.objects.count(), User.objects.count(), PortCall.objects.count()] == counts
    # With the shipping agency, its login, the customs expert and the second customs office
    # (Xiangyu) with its officer; the two bonded-zone enterprises, their logins and the zone
    # gate's camera login; the six e-commerce participants and four of their logins; the
    # Haicang office's quarantine officer.
    assert counts == [18, 20, 2]
    assert BrokerAuthorisation.objects.count() == 2
    assert User.objects.get(username="admin").is_superuser is True


@pytest.mark.parametrize(
    "username",
    [
        "importer",
        "exporter",
        "broker",
        "officer",
        "expert",
        "xiangyu",
        "agent",
        "terminal",
        "maritime",
        "border",
        "portauth",
        "admin",
    ],
)
def test_every_demo_login_signs_in(db, client, username):
    call_command("seed_demo", verbosity=0)

    assert client.login(username=username, password="portwise-demo") is True


def test_demo_organisations_are_of_every_kind_with_valid_identifiers(db):
    call_command("seed_demo", verbosity=0)

    assert set(Organisation.objects.values_list("kind", flat=True)) == set(Organisation.Kind.values)
    for organisation in Organisation.objects.all():
        organisation.full_clean()
    importer = Organisation.objects.get(memberships__user__username="importer")
    assert importer.credit_rating == Organisation.CreditRating.CERTIFIED
    assert Membership.objects.get(user__username="officer").role == Membership.Role.OFFICER


@pytest.mark.parametrize(
    ("username", "expected", "hidden"),
    [
        ("importer", ["Declarations", "New declaration"], ["Inspection queue"]),
        ("officer", ["Inspection queue"], ["New declaration"]),
        ("maritime", ["Port calls"], ["Declarations", "Inspection queue"]),
    ],
)
def test_navigation_shows_each_role_its_own_work(db, client, username, expected, hidden):
    call_command("seed_demo", verbosity=0)
    client.force_login(User.objects.get(username=username))

    page = client.get("/port-calls/").content.decode()
    navigation = page[page.index('<nav class="nav"') : page.index("</nav>")]

    for label in expected:
        assert f">{label}</a>" in navigation
    for label in hidden:
        assert f">{label}</a>" not in navigation


def test_home_sends_each_role_to_its_work(db, client):
    call_command("seed_demo", verbosity=0)
    client.force_login(User.objects.get(username="officer"))
    assert client.get("/")["Location"] == "/inspection/queue/"
    client.force_login(User.objects.get(username="broker"))
    assert client.get("/")["Location"] == "/declarations/"


def test_pages_need_a_login(db, client):
    response = client.get("/declarations/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
