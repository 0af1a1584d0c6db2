# Guest Lifecycle — `make run` serves the API locally, `make test` runs every check. Both install what they need.
# Python 3.13 is required (scripts/find_python.sh finds it: $PYTHON, python3.13, pyenv's 3.13); a .venv made with
# another Python is rebuilt.
PYTHON_VERSION := 3.13
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The browser tests (tests/browser) drive Debian's Chromium through Playwright, never a browser Playwright downloads.
CHROMIUM   := /usr/bin/chromium
PIP_TOOLS  := pip-tools==7.6.2

VENV_PYTHON := $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

.PHONY: install run test test-lint test-python test-infra bench lock clean FORCE

install: $(PY_STAMP) $(NODE_STAMP)

ifneq ($(VENV_PYTHON),$(PYTHON_VERSION))
$(PY_STAMP): FORCE
endif

# requirements.txt is the lock of every deployed package (compiled from requirements.in); requirements-dev.txt
# installs it first, so the tests run on exactly what Azure installs.
$(PY_STAMP): requirements.txt requirements-dev.txt requirements-iac-parse.txt
	@python="$$(bash scripts/find_python.sh)" || exit 1; \
	if [ "$(VENV_PYTHON)" != "$(PYTHON_VERSION)" ]; then \
		rm -rf $(VENV) && echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The local stack's ports: `make run API_PORT=7072` (docs/development.md, "The local stack").
API_PORT           ?= 7071
EMULATOR_PORT      ?= 8081
AZURITE_BLOB_PORT  ?= 10000
AZURITE_QUEUE_PORT ?= 10001
AZURITE_TABLE_PORT ?= 10002

run: install
	API_PORT=$(API_PORT) EMULATOR_PORT=$(EMULATOR_PORT) AZURITE_BLOB_PORT=$(AZURITE_BLOB_PORT) \
	AZURITE_QUEUE_PORT=$(AZURITE_QUEUE_PORT) AZURITE_TABLE_PORT=$(AZURITE_TABLE_PORT) bash scripts/run_local.sh

test: install test-lint test-infra test-python

# ruff over every Python file, mypy over the deployed package, the import contracts between the layers (all three
# set in pyproject.toml). The generated files (API descriptions, docs/settings.md) are checked by pytest.
test-lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Installed with apt (as root, as CI runs) only when it is missing; if it cannot be, `make test` fails here.
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	test -x $(CHROMIUM)

test-python: install $(CHROMIUM)
	$(BIN)/python -m pytest

test-infra:
	bash scripts/check_infra.sh

bench: install
	$(BIN)/python -m bench.sweep_throughput
	$(BIN)/python -m bench.sweep_scaling
	$(BIN)/python -m bench.directory_pass
	$(BIN)/python -m bench.parse_cost
	$(BIN)/python -m bench.invite_latency
	$(BIN)/python -m bench.sweep_vs_peer
	$(BIN)/python -m bench.directory_ranges --guests 100000
	$(BIN)/python -m bench.adoption_scale
	$(BIN)/python -m bench.scale --tracked 10000
	$(BIN)/python -m bench.record_cost
	$(BIN)/python -m bench.table_write_cost

# Recompile the lock after changing requirements.in (pip-tools in a throwaway environment).
lock:
	@python="$$(bash scripts/find_python.sh)" || exit 1; \
	rm -rf .venv-lock && "$$python" -m venv .venv-lock && \
	.venv-lock/bin/python -m pip install --quiet $(PIP_TOOLS) && \
	.venv-lock/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in; status=$$?; rm -rf .venv-lock; exit $$status

clean:
	rm -rf $(VENV) .venv-iac .venv-package .venv-lock node_modules .azurite .pytest_cache test-artifacts
