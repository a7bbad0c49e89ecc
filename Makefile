# The one interface for people and CI. `make test` and `make demo` install everything they need.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

FN ?= DeployFunction
EVENT ?= events/ecr-push.json
ENDPOINT ?=
TAG ?=
REPO ?= web
FANOUT_SERVICES ?= 100,1000,5000

.PHONY: help test lint format typecheck validate checkov build pytest unit integration e2e demo invoke push emulator emulator-stop bench bench-fanout bench-scaling clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt requirements/constraints.txt layers/shared/requirements.txt pyproject.toml
	@echo "==> installing the dev virtualenv ($(VENV))"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e . 2>/dev/null || $(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt requirements/sam-constraints.txt
	@echo "==> installing aws-sam-cli in its own virtualenv ($(SAM_VENV))"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt -c requirements/sam-constraints.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt requirements/checkov-constraints.txt
	@echo "==> installing checkov in its own virtualenv ($(CHECKOV_VENV))"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements/checkov.txt -c requirements/checkov-constraints.txt
	touch $@

test: lint typecheck validate checkov build pytest ## Everything CI runs: ruff, mypy, sam validate --lint, cfn-lint, checkov, sam build, pytest

lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## Format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.installed ## mypy --strict
	$(VENV)/bin/mypy

validate: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate --lint and cfn-lint
	$(SAM) validate --lint --region $(REGION)
	$(VENV)/bin/cfn-lint template.yaml stacks/*.yaml

checkov: $(CHECKOV_VENV)/.installed ## Security checks of template.yaml and stacks/ (every skip is justified in place)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml -f stacks/alb.yaml -f stacks/cluster.yaml -f stacks/service.yaml -f stacks/registry.yaml

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build (no Docker: makefile builds with arm64 wheels)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM) build

pytest: $(VENV)/.installed ## All test levels, then the permission contract on the calls they recorded
	$(PY) -m pytest
	$(PY) -m pytest -n 0 tests/permissions/check_permissions.py

unit: $(VENV)/.installed ## Pure unit tests only
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed ## Handlers and adapters on in-process moto, then the permission contract
	$(PY) -m pytest tests/integration
	$(PY) -m pytest -n 0 tests/permissions/check_permissions.py

e2e: $(VENV)/.installed ## The demo's story on a moto server, step by step
	$(PY) -m pytest tests/e2e

emulator: $(VENV)/.installed ## Start a persistent local emulator (moto server) that invoke and push reuse
	@$(PY) -m tools.emulator start

emulator-stop: $(VENV)/.installed ## Stop the emulator started by make emulator (it forgets everything)
	@$(PY) -m tools.emulator stop

invoke: $(VENV)/.installed ## Invoke a function as sam local invoke would: make invoke FN=DeployFunction EVENT=events/ecr-push.json [ENDPOINT=url]
	@$(PY) -m tools.local_invoke $(FN) $(EVENT) $(if $(ENDPOINT),--endpoint $(ENDPOINT),)

push: $(VENV)/.installed ## Simulate docker push on the emulator, then DeployFunction: make push TAG=1.5.1 [REPO=web]
	@test -n "$(TAG)" || { echo "make push needs TAG=<image tag>, e.g. make push TAG=1.5.1" >&2; exit 2; }
	@$(PY) -m tools.local_invoke push $(TAG) --repository $(REPO) $(if $(ENDPOINT),--endpoint $(ENDPOINT),)

demo: $(VENV)/.installed ## Play the deploy story on an embedded moto server
	$(PY) -m tools.demo

bench: $(VENV)/.installed ## Cold start, AWS calls per deploy, a throttled burst, the review fan-out, the rollout fan-out: writes BENCHMARKS.md
	$(PY) -m tools.bench
	$(PY) -m tools.bench_fanout --services $(FANOUT_SERVICES)

bench-fanout: $(VENV)/.installed ## One push to 100, 1,000 and 5,000 targets on a simulated clock only: rewrites its section of BENCHMARKS.md
	$(PY) -m tools.bench_fanout --services $(FANOUT_SERVICES)

bench-scaling: $(VENV)/.installed ## Closed-loop scaling simulation only (seconds): rewrites its section of BENCHMARKS.md
	$(PY) -m tools.bench_scaling

clean: ## Remove build output and virtualenvs
	-$(PY) -m tools.emulator stop 2>/dev/null
	rm -rf .emulator .aws-sam $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .mypy_cache .pytest_cache .ruff_cache
