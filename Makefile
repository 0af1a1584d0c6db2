# Guest Lifecycle — `make run` serves the API locally, `make test` runs every check. Both install what they need.
# Python 3.13 is required (scripts/find_python.sh finds it: $PYTHON, python3.13, pyenv's 3.13); a .venv made with
# another Python is rebuilt.
PYTHON_VERSION := 3.13
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
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

run: install
	bash scripts/run_local.sh

test: install test-lint test-infra test-python

# ruff over every Python file, mypy over the deployed package (settings in pyproject.toml).
test-lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test-python: install
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

# Recompile the lock after changing requirements.in (pip-tools in a throwaway environment).
lock:
	@python="$$(bash scripts/find_python.sh)" || exit 1; \
	rm -rf .venv-lock && "$$python" -m venv .venv-lock && \
	.venv-lock/bin/python -m pip install --quiet $(PIP_TOOLS) && \
	.venv-lock/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in; status=$$?; rm -rf .venv-lock; exit $$status

clean:
	rm -rf $(VENV) .venv-iac .venv-package .venv-lock node_modules .azurite .pytest_cache
