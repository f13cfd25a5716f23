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

.PHONY: install plan plan-all validate schema docs golden test scan bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
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

# The plan against the hand-written program; e.g. make bench BENCH_ARGS="--repeat 5 --json bench/results/bench.json"
BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build *.egg-info .pytest_cache
