"""Metrics, request ids in logs and tasks."""

import logging

from django.test import override_settings

from port import observability
from port.celery import app as celery_app


def test_metrics_count_requests_by_route_and_read_backlogs_at_scrape(db, client):
    client.get("/livez")
    body = client.get("/metrics").content.decode()
    assert 'portwise_http_requests_total{method="GET",route="/livez",status="200"}' in body
    assert "portwise_http_request_seconds_bucket" in body
    assert 'portwise_queue_depth{queue="' in body
    assert "portwise_websocket_connections" in body


def test_every_response_carries_a_request_id_and_a_given_one_is_kept(db, client):
    made = client.get("/livez")["X-Request-ID"]
    assert len(made) == 32
    kept = client.get("/livez", headers={"X-Request-ID": "proxy-abc-123"})["X-Request-ID"]
    assert kept == "proxy-abc-123"
    refused = client.get("/livez", headers={"X-Request-ID": "x" * 500})["X-Request-ID"]
    assert refused != "x" * 500


def test_log_lines_carry_the_request_id(db, client, caplog):
    record_filter = observability.RequestIdFilter()
    token = observability.request_id.set("req-42")
    try:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
        record_filter.filter(record)
    finally:
        observability.request_id.reset(token)
    assert record.request_id == "req-42"


def test_a_task_queued_in_a_request_carries_its_request_id():
    headers = {}
    token = observability.request_id.set("req-77")
    try:
        from celery import signals

        signals.before_task_publish.send(sender="t", headers=headers, body=None)
    finally:
        observability.request_id.reset(token)
    assert headers["request_id"] == "req-77"


@override_settings(LOG_FORMAT="json")
def test_json_logs_are_one_object_a_line(capsys):
    import json
    import logging.config

    from django.conf import settings

    config = {**settings.LOGGING}
    config["handlers"] = {
        "console": {**settings.LOGGING["handlers"]["console"], "formatter": "json"}
    }
    logging.config.dictConfig(config)
    try:
        logging.getLogger("portwise.test").warning("a line")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "a line"
        assert json.loads(line)["request_id"] == "-"
    finally:
        logging.config.dictConfig(settings.LOGGING)
    assert celery_app is not None


def test_the_grafana_dashboard_plots_only_metrics_we_export():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "deploy/grafana/portwise.json").read_text())
    source = (root / "port/observability.py").read_text()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"portwise_\w+", target["expr"]):
                assert re.sub(r"_bucket$", "", name) in source, name


def test_reads_of_the_dashboards_go_to_the_replica_when_one_is_configured(settings):
    from analytics.models import ClearanceFact
    from declarations.models import Declaration
    from port.routers import ReplicaRouter

    router = ReplicaRouter()
    settings.READ_REPLICA = None
    assert router.db_for_read(ClearanceFact) is None
    settings.READ_REPLICA = "replica"
    assert router.db_for_read(ClearanceFact) == "replica"
    assert router.db_for_read(Declaration) is None  # filings read their own writes
    assert router.db_for_write(ClearanceFact) == "default"
    assert router.allow_migrate("replica", "analytics") is False


def test_object_storage_is_used_when_a_bucket_is_named(monkeypatch):
    import importlib

    import port.settings as settings_module

    monkeypatch.setenv("STORAGE_BUCKET", "portwise-media")
    monkeypatch.setenv("STORAGE_ENDPOINT_URL", "http://127.0.0.1:9000")
    try:
        fresh = importlib.reload(settings_module)
        assert fresh.STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
        assert fresh.STORAGES["default"]["OPTIONS"]["bucket_name"] == "portwise-media"
    finally:
        monkeypatch.delenv("STORAGE_BUCKET")
        importlib.reload(settings_module)
