# One way to do each chore; CI calls `make test` unchanged (through .ci/run).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps run demo test check format bench loadtest soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# redis-server, wrk and Chromium come from Debian; installed when missing (needs root).
system-deps:
	bash scripts/system-deps.sh

var/.demo-seeded: | $(STAMP)
	$(BIN)/badge demo
	touch var/.demo-seeded

demo: install
	$(BIN)/badge demo

run: install var/.demo-seeded
	$(BIN)/badge serve

test: install system-deps
	$(BIN)/python -m pytest

check: install
	$(BIN)/ruff format --check badge tests loadtests
	$(BIN)/ruff check badge tests loadtests
	$(BIN)/mypy

format: install
	$(BIN)/ruff format badge tests loadtests
	$(BIN)/ruff check --fix badge tests loadtests

bench: install system-deps
	$(BIN)/python loadtests/bench.py

loadtest: install system-deps
	$(BIN)/python loadtests/run_locust.py

# Ten minutes of mixed load with Redis; `make soak SOAK_SECONDS=60` for a short try.
SOAK_SECONDS ?= 600
soak: install system-deps
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python loadtests/soak.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
