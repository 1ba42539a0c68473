# One command each: `make example` runs the example suite, `make test` runs the tests.
# Both create .venv and install the project first (idempotent).
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: install example test lint bench test-pythons

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

example: install
	$(VENV)/bin/pytest example_suite $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check pytest_genai_eval tests example_suite $(wildcard benchmarks)
	$(VENV)/bin/mypy

# pytest's exit 5 (no tests collected) means the setup is broken: report it as a failure.
test: install lint
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests were collected: the test setup is broken" >&2; exit 1; fi; \
	exit $$rc

# The declared minimum Python (3.10) and the newest available (3.13, else >= 3.12), each in its
# own venv (.venv-py3.10, .venv-py3.13): start-up, an end-to-end judged run, the engine, loaders.
test-pythons:
	bash .ci/test-pythons

bench: install
	$(VENV)/bin/python benchmarks/run.py
