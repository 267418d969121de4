# One way to do each chore; CI calls `make check` and `make test` unchanged (through .ci/run).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set of extras, so each chore installs only what it uses and none undoes
# another: `make run` gets the runtime alone, `make test` everything (see pyproject.toml).
RUN_STAMP := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp
CHECK_STAMP := $(VENV)/.check-stamp
LOADTEST_STAMP := $(VENV)/.loadtest-stamp
DOCS_STAMP := $(VENV)/.docs-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: install system-deps run demo test check format bench loadtest soak docs-images image clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.%-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

# A developer's environment: everything the tests and checks use.
install: $(TEST_STAMP)

# libcairo2, redis-server, wrk, Chromium and PostgreSQL come from Debian; installed when missing
# (needs root). Targets below ask only for what they use.
system-deps:
	bash scripts/system-deps.sh

demo: $(RUN_STAMP)
	$(BIN)/badge demo

# `badge demo` is idempotent: every start prints the demo ids and the URLs to try.
run: $(RUN_STAMP)
	bash scripts/system-deps.sh cairo
	$(BIN)/badge demo
	$(BIN)/badge serve

test: $(TEST_STAMP) system-deps
	$(BIN)/python -m pytest

check: $(CHECK_STAMP)
	$(BIN)/ruff format --check badge tests loadtests scripts
	$(BIN)/ruff check badge tests loadtests scripts
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/python scripts/check_architecture.py

format: $(CHECK_STAMP)
	$(BIN)/ruff format badge tests loadtests scripts
	$(BIN)/ruff check --fix badge tests loadtests scripts

bench: $(BENCH_STAMP)
	bash scripts/system-deps.sh cairo wrk varnish nginx
	$(BIN)/python loadtests/bench.py

# The container image, with docker, podman or the shared `oci` tool (scripts/container.sh).
IMAGE ?= keurmerk-badge
image:
	bash scripts/system-deps.sh container
	bash scripts/container.sh build -t $(IMAGE) .

loadtest: $(LOADTEST_STAMP)
	bash scripts/system-deps.sh cairo redis
	$(BIN)/python loadtests/run_locust.py

# Ten minutes of mixed load with Redis; `make soak SOAK_SECONDS=60` for a short try.
SOAK_SECONDS ?= 600
soak: $(LOADTEST_STAMP)
	bash scripts/system-deps.sh cairo redis
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python loadtests/soak.py

# The README's pictures under docs/: badges in each state and the verification page.
docs-images: $(DOCS_STAMP)
	bash scripts/system-deps.sh cairo chromium
	$(BIN)/python scripts/docs_images.py docs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
