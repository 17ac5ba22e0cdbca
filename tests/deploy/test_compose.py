"""docker-compose.yml, checked offline: valid against the Compose Specification's schema,
and shaped to scale (no Docker daemon runs on these machines)."""

import json
import re
from pathlib import Path

import jsonschema
import yaml

from port.celery import all_queues

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((ROOT / "deploy/schemas/compose-spec.json").read_text())
    jsonschema.validate(COMPOSE, schema)


def test_only_the_proxy_publishes_ports_so_web_and_workers_scale():
    published = sorted(name for name, service in SERVICES.items() if service.get("ports"))
    assert published == ["proxy"]
    assert "8000" in SERVICES["web"]["expose"]
    assert "8000" in SERVICES["api"]["expose"]
    for name in ("web", "api", "worker"):
        assert "container_name" not in SERVICES[name]


def test_proxy_headers_are_trusted_from_the_edge_network_only():
    command = " ".join(SERVICES["web"]["command"])
    assert "--forwarded-allow-ips $${EDGE_SUBNET}" in command
    assert "'*'" not in command
    assert set(SERVICES["proxy"]["networks"]) == {"edge"}
    assert "backend" not in SERVICES["proxy"]["networks"]
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    assert "dynamic a web 8000" in caddyfile
    # The WSGI server has no such option: the application trusts the same network.
    assert (
        SERVICES["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "${EDGE_SUBNET:-172.31.250.0/24}"
    )


def test_the_http_api_is_served_by_the_wsgi_server_and_the_rest_by_the_asgi_one():
    api = " ".join(SERVICES["api"]["command"])
    assert "granian --interface wsgi port.wsgi:application" in api
    assert "uvicorn port.asgi:application" in " ".join(SERVICES["web"]["command"])
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    assert "reverse_proxy /api/* {\n\t\tdynamic a api 8000" in caddyfile
    assert set(SERVICES["proxy"]["depends_on"]) == {"web", "api"}


def test_every_workload_queue_has_a_worker_with_time_limits():
    consumed = {}
    for name, service in SERVICES.items():
        command = service.get("command")
        if isinstance(command, list) and "worker" in command:
            queues = command[command.index("-Q") + 1].split(",")
            assert "--time-limit" in command, f"{name} has no time limit"
            for queue in queues:
                consumed[queue] = name
    assert set(all_queues("portwise")) <= set(consumed)


def test_migrations_run_once_before_web_workers_and_beat():
    for name in ("web", "api", "worker", "worker-imports", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_probes_ask_the_right_questions():
    for name in ("web", "api"):
        probe = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert "/readyz" in probe  # busy or absent workers never take web out of rotation
    assert "valkey" in SERVICES["valkey"]["image"]


def test_the_outbox_relay_runs_after_migrations():
    relay = SERVICES["relay"]
    assert relay["command"] == ["python", "manage.py", "outbox_relay"]
    assert relay["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


DIGEST = r"@sha256:[0-9a-f]{64}"


def test_every_third_party_image_is_pinned_by_digest():
    """A rebuild or a redeploy takes exactly the builds the repository names."""
    images = {service.get("image") for service in SERVICES.values()} - {None}
    images |= {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("FROM ")
    }
    ours = {"portwise:latest"}
    assert {"postgres", "valkey/valkey", "caddy", "python", "node"} <= {
        image.split(":")[0] for image in images
    }
    for image in images - ours:
        assert re.fullmatch(r"[a-z0-9./-]+:[\w.-]+" + DIGEST, image), image
