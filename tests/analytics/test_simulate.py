"""`manage.py simulate`: traffic through the normal services, and a clean stop."""

import io
import random
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from analytics import simulation
from certificates.models import Certificate
from declarations.models import Declaration
from inspection.models import RiskRule
from port.models import TimelineEvent
from tests.conftest import ROOT, _subprocess_env


def test_simulated_filings_go_through_the_filing_service(demo, django_capture_on_commit_callbacks):
    out = io.StringIO()

    with django_capture_on_commit_callbacks() as callbacks:
        call_command("simulate", speed=1000, duration=1.5, seed=7, stdout=out)

    declarations = Declaration.objects.all()
    assert declarations.count() >= 5
    assert set(declarations.values_list("status", flat=True)) == {"submitted"}  # the worker decides
    assert TimelineEvent.objects.filter(kind="declaration.filed").count() == declarations.count()
    assert len(callbacks) >= declarations.count()  # each filing queued its assessment
    assert {d.direction for d in declarations} == {"import", "export"}
    assert "Simulation stopped after" in out.getvalue()


def test_simulated_goods_include_released_and_selected_codes(demo):
    rng = random.Random(3)  # noqa: S311
    for _ in range(40):
        simulation.file_declaration(rng)

    codes = set(Declaration.objects.values_list("items__hs_code", flat=True))
    prefixes = set(RiskRule.objects.values_list("hs_prefix", flat=True))
    assert any(code[:4] in prefixes for code in codes)
    assert any(code[:4] not in prefixes for code in codes)


def test_the_simulated_certificate_application_is_accepted(demo):
    line = simulation.apply_certificate(random.Random(1))  # noqa: S311

    certificate = Certificate.objects.get()
    assert certificate.exporter == demo.exporter_org
    assert "refused" not in line


def test_bad_options_are_refused():
    with pytest.raises(CommandError):
        call_command("simulate", speed=0)


@pytest.mark.slow
def test_simulate_runs_with_a_worker_and_stops_cleanly_on_sigterm(demo, celery_worker_process):
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "simulate", "--speed", "10", "--seed", "5"],
        cwd=ROOT,
        env=_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not Declaration.objects.exclude(status="submitted").exists():
        assert time.monotonic() < deadline, "no declaration was decided"
        time.sleep(0.5)

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    assert "Simulation stopped after" in out
