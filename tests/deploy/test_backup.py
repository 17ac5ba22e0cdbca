"""The backup procedure of docs/deploy.md, rehearsed: a point-in-time restore from a base
backup and archived WAL into a scratch cluster."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_point_in_time_restore_brings_back_exactly_what_was_there():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "rehearse-restore.sh")],
        cwd=ROOT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "PITR rehearsal passed" in result.stdout
    assert "after target" not in result.stdout.split("restored [")[1].split("]")[0]
