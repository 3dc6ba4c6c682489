# vcaudit: every target installs what it needs and is safe to repeat.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test demo lint scenarios bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

test: setup
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/vcaudit evaluate $(filter-out %.expected.json,$(wildcard samples/elmgrove-week/*.json)) --format table

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The shared example scenarios, when the team folder is beside the checkout.
scenarios: setup
	@if [ -x ../shared/tools/check-scenarios ]; then ../shared/tools/check-scenarios; else echo "../shared/tools/check-scenarios not found: skipped"; fi

bench: setup
	$(BIN)/python bench/evaluate.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
