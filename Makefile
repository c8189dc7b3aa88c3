# agentic-voice: the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup run test fuzz images test-containers test-arm64 lint web web-test audit bench lock

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## install system packages, uv and the locked Python workspace
	@scripts/setup.sh

run: setup web ## set up and run the whole stack in the foreground (Ctrl-C stops it)
	$(PY) ops/local/stack.py

test: setup lint web-test web images ## set up and run every test (what CI runs)
	AUDIT_ALLOW_UNREACHABLE=1 scripts/audit.sh
	.venv/bin/pytest -n 2 --dist loadgroup

# The container tests' configuration: the one value compose requires (Grafana is not started).
COMPOSE := .venv/bin/docker-compose -f docker-compose.yml
COMPOSE_ENV := GRAFANA_ADMIN_PASSWORD=not-started-in-tests

images: setup ## a Docker engine (started if none answers), stand-ins for base images no registry gives, the stack's images
	ops/images/engine.sh
	$(PY) ops/images/standins.py
	$(COMPOSE_ENV) $(COMPOSE) build --quiet

test-containers: images ## the composed stack in real containers: health, a conversation through nginx, kills, volumes
	.venv/bin/pytest tests/containers

test-arm64: setup ## the Jetson overlay's images built for arm64 under qemu, the gateway started (slow; not in make test)
	ops/images/arm64.sh

fuzz: setup ## fuzz with fresh seeds and FUZZ_SCALE (5) times make test's examples (not in CI)
	FUZZ_EXPLORE=1 .venv/bin/pytest tests/fuzz --timeout=3600

web: setup ## build the web client into web/dist (what nginx serves)
	cd web && npm run build

audit: setup ## dependency audit (pip-audit, npm audit): fails on a known vulnerability with a fix
	scripts/audit.sh

web-test: setup ## the web client's type check and unit tests (vitest); the Pipecat SDK check page; the player's replay
	cd web && npm run typecheck && npm test && npm run build:sdk-check && npm run build:replay

lint: ## ruff (lint and format) and mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: setup images ## run every benchmark; each prints one JSON line last
	@set -e; for script in bench/*.py; do echo "== $$script"; $(PY) $$script $(BENCH_ARGS); done

lock: ## re-resolve the workspace lockfile after changing dependencies
	python3 -m uv lock
