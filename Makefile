# Portwise. `make run` to try it, `make test` before you push; docs/operations.md has more.
# Every target installs what it needs first: a .venv (re-installed when pyproject.toml
# changes) and the front-end libraries (re-installed when package-lock.json changes).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR := $(or $(PORTWISE_DATA_DIR),.data)

.PHONY: run test bench lint messages clean-data install assets

run: install assets
	$(PY) manage.py run $(if $(SIMULATE),--simulate)

test: install assets
	$(PY) -m pytest

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
clean-data:
	@if [ -x $(PY) ] && ! PORTWISE_DATA_DIR='$(DATA_DIR)' $(PY) -m port.embedded; then \
		echo "Not removing $(DATA_DIR): stop the processes using it first."; exit 1; fi
	rm -rf '$(DATA_DIR)'

install: $(VENV)/.installed

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev]'
	touch $@

assets: node_modules/.installed
	npm run build

node_modules/.installed: package.json package-lock.json
	npm ci
	touch $@
