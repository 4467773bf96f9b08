# Two targets matter: `make run` (the demo) and `make test` (the whole suite).
# Both create .venv and install the project into it first; nothing else is needed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Ports of `make run` (e.g. `make run HUB_PORT=5100 INVOICING_PORT=5101 HELPDESK_PORT=5102`).
HUB_PORT ?= 5000
INVOICING_PORT ?= 5001
HELPDESK_PORT ?= 5002

.PHONY: install run lint test bench clean e2e-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	HUB_PORT=$(HUB_PORT) INVOICING_PORT=$(INVOICING_PORT) HELPDESK_PORT=$(HELPDESK_PORT) $(BIN)/python -m examples.demo

# Lint and types: ruff over everything, mypy with the settings in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# axe-core for the browser tests' accessibility checks (pinned in tests/e2e/package-lock.json).
# Without npm they skip locally (and fail under CI=true).
e2e-deps:
	@if command -v npm >/dev/null; then npm ci --prefix tests/e2e --no-audit --no-fund --silent; \
	else echo "npm not found: the accessibility checks of tests/e2e will skip"; fi

# Lint and types, the whole suite (hub tests on SQLite, a subset on PostgreSQL), then the hub
# and pairing tests once more with PostgreSQL as the hub's database.
test: lint e2e-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	SSO_TEST_HUB_DB=postgres $(BIN)/python -m pytest -q tests/hub tests/user_pairing $(PYTEST_ARGS)

# Benchmarks (not tests): each prints a table and rewrites its bench/README-*.md.
bench: install
	$(BIN)/python bench/bench_multipass.py
	$(BIN)/python bench/bench_accounts.py --postgres
	$(BIN)/python bench/bench_pairing.py
	$(BIN)/python bench/bench_jump.py
	$(BIN)/python bench/bench_oidc.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis tests/e2e/node_modules
