"""Liveness, readiness and the whole system's status, each in its failure cases."""

import time

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings

from port import beat
from port.celery import all_queues
from port.celery import app as celery_app


def test_livez_answers_without_asking_anything(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_with_retry_after_when_the_database_does_not_answer(client):
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=1)  # nothing listens there
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["database"].startswith("error")


def _clear_beat():
    leader, heartbeat = beat._keys(celery_app)
    redis.Redis.from_url(settings.BROKER_URL).delete(leader, heartbeat)


def test_healthz_reports_every_part_and_is_503_without_a_worker(db, client):
    _clear_beat()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503  # no worker answers in this test
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["celery"].startswith("error: no worker")
    assert body["beat"] == "not seen yet"
    assert body["redis_roles"] == {"broker": "ok", "cache": "ok", "channels": "ok"}
    assert set(body["queues"]) == set(all_queues())
    assert "outbox" in body


def test_healthz_names_the_redis_role_that_fails(db, client):
    layers = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0"}]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        body = client.get("/healthz").json()
    assert body["redis_roles"]["channels"].startswith("error")
    assert body["redis_roles"]["broker"] == "ok"
    assert body["redis"].startswith("error")


def test_a_stale_beat_makes_the_system_unhealthy(db, client):
    _, heartbeat = beat._keys(celery_app)
    client_redis = redis.Redis.from_url(settings.BROKER_URL)
    client_redis.set(heartbeat, str(time.time() - 600))
    try:
        assert client.get("/healthz").json()["beat"].startswith("stale")
    finally:
        _clear_beat()


def test_two_beats_never_both_lead_and_the_standby_takes_over(tmp_path, monkeypatch):
    _clear_beat()
    monkeypatch.setattr(beat, "LEASE_SECONDS", 1)
    first = beat.LeaderScheduler(app=celery_app, schedule_filename=str(tmp_path / "a"), lazy=True)
    second = beat.LeaderScheduler(app=celery_app, schedule_filename=str(tmp_path / "b"), lazy=True)
    second._me = first._me + "-other"  # as another host would be
    try:
        assert first._lead() is True
        assert second._lead() is False
        assert first._lead() is True  # the leader keeps its lease
        time.sleep(1.2)  # the leader dies: its lease runs out
        assert second._lead() is True
        assert first._lead() is False
        assert beat.heartbeat_age(celery_app) < 1
    finally:
        _clear_beat()
