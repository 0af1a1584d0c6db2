# Guest Lifecycle — `make run` serves the API locally, `make test` runs every check. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install run test test-python test-infra bench clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt requirements-iac-parse.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	bash scripts/run_local.sh

test: install test-infra test-python

test-python: install
	$(BIN)/python -m pytest

test-infra:
	bash scripts/check_infra.sh

bench: install
	$(BIN)/python -m bench.sweep_throughput
	$(BIN)/python -m bench.sweep_scaling

clean:
	rm -rf $(VENV) .venv-iac node_modules .azurite .pytest_cache
