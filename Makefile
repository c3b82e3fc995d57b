# The two set-up commands of the README. Each works on a fresh machine on its own.
VENV ?= .venv

.PHONY: demo test lint schemas fault-matrix

## Run the worker on the embedded default: Tansu broker + redis-server, sample articles fed through.
demo:
	scripts/setup.sh run
	$(VENV)/bin/newsworker demo --once

## Install everything the tests need (apt packages too) and run the whole suite.
test:
	scripts/setup.sh test
	$(VENV)/bin/python -m pytest

lint:
	$(VENV)/bin/ruff check worker tests bench
	$(VENV)/bin/mypy

schemas:
	$(VENV)/bin/newsworker schemas

## The whole fault matrix (tests/faults/, 8-12 min): signals x moments x faults against real
## processes; each trial's figures are appended to fault-matrix.jsonl (docs/RELIABILITY.md).
fault-matrix:
	scripts/setup.sh test
	NEWSWORKER_FAULT_MATRIX=1 NEWSWORKER_FAULT_RESULTS=$(CURDIR)/fault-matrix.jsonl \
		$(VENV)/bin/python -m pytest tests/faults -v -rxXs
