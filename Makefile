# One way to do each chore; CI calls `make check` and `make test` unchanged (through .ci/run).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Every install goes through uv.lock, the versions the suite passed on: `uv sync --frozen`
# installs exactly those (hash-checked) and never resolves. --inexact lets each chore add
# only the extras it uses without removing another's: `make run` gets the runtime alone,
# `make test` everything (see pyproject.toml). uv never fetches a Python of its own.
SYNC := $(UV) sync --frozen --inexact
export UV_PYTHON_DOWNLOADS := never
# The platform's certificate store, as pip and curl use it, so a machine whose TLS goes
# through its own CA reaches the index without further set-up.
export UV_SYSTEM_CERTS ?= 1
# The tests that start no process: a quick loop, and what `make upgrade` runs.
QUICK_TESTS := not server and not redis and not postgres and not browser and not container

.PHONY: install system-deps run demo test check format bench profile loadtest soak docs-images image \
	lock upgrade clean

# uv itself comes from requirements/uv.txt, exported from the lock with every wheel's hash.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/uv.txt

# A developer's environment: everything the tests and checks use.
install: $(UV)
	$(SYNC) --all-extras

# libcairo2, redis-server, wrk, Chromium and PostgreSQL come from Debian; installed when missing
# (needs root). Targets below ask only for what they use.
system-deps:
	bash scripts/system-deps.sh

demo: $(UV)
	$(SYNC)
	$(BIN)/badge demo

# `badge demo` is idempotent: every start prints the demo ids and the URLs to try.
run: $(UV)
	$(SYNC)
	bash scripts/system-deps.sh cairo
	$(BIN)/badge demo
	$(BIN)/badge serve

test: $(UV) system-deps
	$(SYNC) --all-extras
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

check: $(UV)
	$(SYNC) --extra check
	$(BIN)/ruff format --check badge tests loadtests scripts
	$(BIN)/ruff check badge tests loadtests scripts
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/python scripts/check_architecture.py
	$(BIN)/python scripts/lock.py check

format: $(UV)
	$(SYNC) --extra check
	$(BIN)/ruff format badge tests loadtests scripts
	$(BIN)/ruff check --fix badge tests loadtests scripts

bench: $(UV)
	$(SYNC) --extra bench
	bash scripts/system-deps.sh cairo wrk varnish nginx
	$(BIN)/python loadtests/bench.py

# Where `badge serve` spends the embed-shaped request, sampled with py-spy under wrk.
profile: $(UV)
	$(SYNC) --extra bench
	bash scripts/system-deps.sh cairo wrk
	$(BIN)/python loadtests/profile.py

# The container image, with docker, podman or the shared `oci` tool (scripts/container.sh).
IMAGE ?= keurmerk-badge
image:
	bash scripts/system-deps.sh container
	bash scripts/container.sh build -t $(IMAGE) .

# Locust with a report per run under var/loadtest/<timestamp>/. Without TARGET it starts its
# own service; `make loadtest TARGET=https://staging.example SHOPS=shops.txt [TOKEN=...]`
# loads a deployment, `WORKERS=N` runs a master and N workers (loadtests/run_locust.py).
USERS ?= 50
SECONDS ?= 60
WORKERS ?= 0
# Exported rather than written in the command, so make never prints the token.
loadtest: export LOCUST_ADMIN_TOKEN := $(or $(TOKEN),$(LOCUST_ADMIN_TOKEN))
loadtest: $(UV)
	$(SYNC) --extra loadtest
	$(if $(TARGET),,bash scripts/system-deps.sh cairo redis)
	$(BIN)/python loadtests/run_locust.py \
		--users $(USERS) --seconds $(SECONDS) --workers $(WORKERS) \
		$(if $(TARGET),--target '$(TARGET)') $(if $(SHOPS),--shops '$(SHOPS)')

# Ten minutes of mixed load with Redis; `make soak SOAK_SECONDS=60` for a short try.
SOAK_SECONDS ?= 600
soak: $(UV)
	$(SYNC) --extra loadtest
	bash scripts/system-deps.sh cairo redis
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python loadtests/soak.py

# The README's pictures under docs/: badges in each state and the verification page.
docs-images: $(UV)
	$(SYNC) --extra docs
	bash scripts/system-deps.sh cairo chromium
	$(BIN)/python scripts/docs_images.py docs

# uv.lock after a change to the dependencies in pyproject.toml: pins only what changed,
# then re-exports the hash-checked files the image and the bootstrap read.
lock: $(UV)
	$(UV) lock
	$(BIN)/python scripts/lock.py export

# Everything to its newest release the ranges in pyproject.toml allow, then the checks and
# the quick tests on it; prints what moved. `git diff uv.lock` and commit, or check out.
upgrade: $(UV)
	cp uv.lock $(VENV)/uv.lock.before
	$(UV) lock --upgrade
	$(BIN)/python scripts/lock.py export
	$(BIN)/python scripts/lock.py changes $(VENV)/uv.lock.before uv.lock
	$(SYNC) --all-extras
	$(MAKE) check
	$(BIN)/python -m pytest -q -m "$(QUICK_TESTS)"
	$(BIN)/python scripts/lock.py changes $(VENV)/uv.lock.before uv.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
