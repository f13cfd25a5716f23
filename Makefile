# Two commands do all set-up on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev
STAMP  := $(VENV)/.installed

.PHONY: install plan plan-all validate schema docs test bench clean

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
	  $(BIN)/mlinfra plan --stack $$s --quiet || exit 1; done

validate: install
	$(BIN)/mlinfra validate --stack $(STACK)

schema: install
	$(BIN)/mlinfra schema

docs: install
	$(BIN)/mlinfra schema --update-readme README.md

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
