# Portwise. `make run` to try it, `make test` before you push; docs/operations.md has more.
# Every target installs what it needs first: a .venv from requirements.lock (every package
# pinned with its hashes; re-installed when the lock changes) and the front-end libraries
# (re-installed when package-lock.json changes). `make lock` refreshes the lock.

# The first of these that really runs Python 3.11 or 3.12 (a pyenv shim may exist but not run).
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3,\
	$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED)' 2>/dev/null && command -v $(p))))
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR := $(or $(PORTWISE_DATA_DIR),.data)
# The living port by default: `SIMULATE=0 make run` gives the still one.
SIMULATE ?= 1

.PHONY: run test api-fuzz bench lint lock messages clean-data install assets python

run: install assets
	$(PY) manage.py run $(if $(filter 0 no false off,$(SIMULATE)),,--simulate)

test: install assets
	$(PY) -m pytest

# Schemathesis over the whole API schema as every demo role, on its own database (CI runs it).
api-fuzz: install
	$(PY) scripts/schemathesis_api.py

bench: install assets
	@if [ -f bench/__main__.py ]; then $(PY) -m bench; \
	elif [ -f bench/run.py ]; then $(PY) -m bench.run; \
	else echo "No benchmarks yet (bench/run.py)."; fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

messages: install
	mkdir -p locale
	$(PY) manage.py makemessages -l zh_Hans --ignore '$(VENV)/*' --ignore 'node_modules/*'
	$(PY) manage.py compilemessages -l zh_Hans --ignore '$(VENV)' --ignore node_modules

# Removes the embedded servers' data (database, Redis, logs). Stops nothing: stop
# `make run` (and any manage.py shell or worker) first.
clean-data: install
	PORTWISE_DATA_DIR='$(DATA_DIR)' $(PY) -m port.embedded --remove

install: $(VENV)/.installed

python:
	@if [ -z '$(PYTHON)' ]; then \
		echo "Portwise needs Python 3.11 or 3.12, and found neither (python3 is $$(python3 --version 2>&1 || echo missing))."; \
		echo "Install one (Debian/Ubuntu: sudo apt-get install python3.12-venv, or pyenv install 3.12),"; \
		echo "then run make again, or name it: make run PYTHON=/path/to/python3.12"; exit 1; fi

$(PY): | python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Re-resolves every package for Python 3.11 and 3.12 from pyproject.toml, with hashes:
# requirements.lock for development (dev and embedded extras), requirements-prod.lock for images.
lock: | $(PY)
	$(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra embedded --universal \
		--generate-hashes --quiet -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --universal --generate-hashes --quiet \
		-o requirements-prod.lock

assets: node_modules/.installed
	npm run build

node_modules/.installed: package.json package-lock.json
	npm ci
	touch $@
