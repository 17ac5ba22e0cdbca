"""deploy/k8s, checked offline against the Kubernetes schemas kubernetes-validate ships."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from port.celery import all_queues

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
DOCUMENTS = [
    (path.name, doc)
    for path in sorted(K8S.glob("*.yaml"))
    if path.name != "kustomization.yaml"
    for doc in yaml.safe_load_all(path.read_text())
    if doc
]
BY_KIND = {}
for _, doc in DOCUMENTS:
    BY_KIND.setdefault(doc["kind"], []).append(doc)


@pytest.mark.parametrize(
    ("name", "doc"),
    DOCUMENTS,
    ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in DOCUMENTS],
)
def test_every_manifest_is_valid_kubernetes(name, doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def _containers(kind: str, component: str) -> list[dict]:
    for doc in BY_KIND[kind]:
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == component:
            return doc["spec"]["template"]["spec"]["containers"]
    raise AssertionError(f"no {kind} for {component}")


def test_web_probes_liveness_and_readiness_separately():
    for component in ("web", "api"):
        (container,) = _containers("Deployment", component)
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_ingress_sends_the_http_api_to_the_wsgi_server():
    (ingress,) = BY_KIND["Ingress"]
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths == {"/api/": "portwise-api", "/": "portwise-web"}
    (api,) = _containers("Deployment", "api")
    assert "granian --interface wsgi port.wsgi:application" in api["command"][-1]
    assert {e["name"]: e["value"] for e in api["env"]}["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"


def test_every_queue_has_a_worker_and_an_autoscaler_on_its_depth():
    consumed = set()
    for doc in BY_KIND["Deployment"]:
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        command = container.get("command", [])
        if "worker" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
            assert "--time-limit" in command
    assert set(all_queues("portwise")) <= consumed
    external = [
        m["external"]["metric"]["selector"]["matchLabels"]["queue"]
        for hpa in BY_KIND["HorizontalPodAutoscaler"]
        for m in hpa["spec"]["metrics"]
        if m["type"] == "External"
    ]
    assert len(external) == 4


def test_migrations_are_a_job_and_beat_a_single_recreated_pod():
    (job,) = BY_KIND["Job"]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert script.startswith("python manage.py migrate --noinput && ")
    assert script.endswith("load_reference unlocode shipped")
    (beat,) = [d for d in BY_KIND["Deployment"] if d["metadata"]["name"] == "portwise-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"


def test_the_outbox_relay_runs_with_a_spare():
    (relay,) = _containers("Deployment", "relay")
    assert relay["command"] == ["python", "manage.py", "outbox_relay"]
    (deployment,) = [
        d
        for d in BY_KIND["Deployment"]
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "relay"
    ]
    assert deployment["spec"]["replicas"] >= 2  # SKIP LOCKED: the two share the rows
