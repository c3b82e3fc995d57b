# The two set-up commands of the README. Each works on a fresh machine on its own.
VENV ?= .venv

.PHONY: demo test lint schemas fault-matrix

## Run the worker on the embedded default: Tansu broker + redis-server, sample articles fed through.
demo:
	scripts/setup.sh run
	$(VENV)/bin/newsworker demo --once

## Install everything the tests need (apt packages too) and run the whole suite, on two pytest-xdist
## workers: most of the suite waits on real processes (brokers, Redis, the image build), so two
## halve its time on two cores. --dist loadfile: a file's tests share a worker (one image build).
test:
	scripts/setup.sh test
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

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
