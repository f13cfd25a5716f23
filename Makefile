# Two commands do all set-up on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev
STAMP  := $(VENV)/.installed
# checkov runs in its own virtualenv: it pins old libraries that must not share $(VENV).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .venv-checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The Dataflow pipelines run in their own virtualenv too: Beam and Pulumi pin conflicting dill.
BEAM_VENV  := .venv-beam
BEAM_STAMP := $(BEAM_VENV)/.installed
# Feast too (the feature store's materialization and its config tests): its Google Cloud clients
# need protobuf 6.33+, pulumi-policy pins protobuf 5.29.
FEAST_VENV  := .venv-feast
FEAST_STAMP := $(FEAST_VENV)/.installed

# mermaid (its own parser, under node) checks the diagrams of the markdown plan; pinned by
# tools/mermaid/package-lock.json.
MERMAID_DIR   := tools/mermaid
MERMAID_STAMP := $(MERMAID_DIR)/node_modules/.installed

.PHONY: install plan plan-all validate schema docs golden test scan bench clean \
        pipelines-install pipelines-test feast-install feast-test feast-fixtures mermaid-install chromium-install shellcheck-install mermaid-check \
        workflows workflows-check

$(STAMP): requirements.txt requirements-dev.txt requirements-backend.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(STAMP)

plan: install
	$(BIN)/mlinfra plan --stack $(STACK)

plan-all: install
	@for f in stacks/Pulumi.*.yaml; do s=$${f#stacks/Pulumi.}; s=$${s%.yaml}; \
	  $(BIN)/mlinfra plan --stack $$s --quiet --strict || exit 1; done

validate: install
	$(BIN)/mlinfra validate --stack $(STACK)

schema: install
	$(BIN)/mlinfra schema

docs: install
	$(BIN)/mlinfra schema --update-readme README.md

# Rewrite the golden snapshots of what each stack creates (tests/golden/); review the diff.
golden: install
	$(BIN)/python -m tests.golden

test: install
	$(BIN)/pytest

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

# checkov over every stack's rendered Kubernetes manifests, offline (scripts/checkov_scan.py).
scan: install $(CHECKOV_STAMP)
	$(BIN)/python scripts/checkov_scan.py

$(BEAM_STAMP): pipelines/requirements-test.txt $(wildcard pipelines/*/requirements.txt)
	test -x $(BEAM_VENV)/bin/python || $(PYTHON) -m venv $(BEAM_VENV)
	$(BEAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r pipelines/requirements-test.txt
	touch $@

pipelines-install: $(BEAM_STAMP)

# The Beam pipelines end to end on the bundle-based DirectRunner, offline (pipelines/tests/).
pipelines-test: $(BEAM_STAMP)
	$(BEAM_VENV)/bin/pytest pipelines

$(FEAST_STAMP): featurestore/requirements.txt featurestore/requirements-test.txt featurestore/constraints.txt
	test -x $(FEAST_VENV)/bin/python || $(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/pip install --quiet --disable-pip-version-check -r featurestore/requirements-test.txt
	touch $@

feast-install: $(FEAST_STAMP)

# The generated feature_store.yaml files load in Feast's own config classes, and the
# materialization entry point runs end to end on Feast's local provider (featurestore/tests/).
feast-test: $(FEAST_STAMP)
	$(FEAST_VENV)/bin/pytest featurestore

# Rewrite those feature_store.yaml fixtures from offline plans (main virtualenv); a test fails when stale.
feast-fixtures: install
	$(BIN)/python -m tests.feast_fixtures

$(MERMAID_STAMP): $(MERMAID_DIR)/package.json $(MERMAID_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "mermaid-install needs node 20+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
	cd $(MERMAID_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

mermaid-install: $(MERMAID_STAMP)

# Debian's chromium, for the full render of the diagrams (SVG, layout) besides the parse.
# Not pinned to a version: Debian's security archive keeps only the current build.
chromium-install:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] || { echo "chromium-install runs apt-get: run it as root, or apt-get install chromium yourself" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	chromium --version

# The diagram tests with mermaid required: they fail instead of skipping when it is missing.
mermaid-check: install mermaid-install chromium-install
	MLINFRA_REQUIRE_MERMAID=1 MLINFRA_REQUIRE_CHROMIUM=1 $(BIN)/pytest -q tests/infra/test_markdown.py

# shellcheck, which actionlint runs on every `run:` script of the workflows (Debian bookworm's).
SHELLCHECK_VERSION := 0.9.0-1
shellcheck-install:
	@command -v shellcheck >/dev/null || { [ "$$(id -u)" = 0 ] || { echo "shellcheck-install runs apt-get: run it as root, or apt-get install shellcheck yourself" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck=$(SHELLCHECK_VERSION) >/dev/null; }
	shellcheck --version | sed -n 2p

# Regenerate .github/workflows/ from the stack files (and print the identity setup).
workflows: install
	$(BIN)/mlinfra ci init

# The committed workflows are current, pass our checks and actionlint.
workflows-check: install shellcheck-install
	$(BIN)/mlinfra ci init --check
	$(BIN)/mlinfra ci check .github/workflows
	$(BIN)/actionlint -no-color -shellcheck=shellcheck .github/workflows/*.yml

# The plan against the hand-written program; e.g. make bench BENCH_ARGS="--repeat 5 --json bench/results/bench.json"
BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/validation.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(BEAM_VENV) $(FEAST_VENV) $(MERMAID_DIR)/node_modules build *.egg-info .pytest_cache
