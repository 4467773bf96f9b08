# Two targets matter: `make run` (the demo) and `make test` (the whole suite).
# Both create .venv and install the project into it first; nothing else is needed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run lint test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m examples.demo

# Lint and types: ruff over everything, mypy with the settings in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Lint and types, the whole suite (hub tests on SQLite, a subset on PostgreSQL), then the hub
# and pairing tests once more with PostgreSQL as the hub's database.
test: lint
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
	rm -rf $(VENV) instance .pytest_cache .hypothesis
