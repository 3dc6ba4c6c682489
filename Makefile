# vcaudit: every target installs what it needs and is safe to repeat.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_STAMP  := node_modules/.installed
INFRA_VENV  := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: setup azurite chromium test test-fast demo fortnight serve demo-evaluate digest-preview lint scenarios bench bench-faults infra-check clean

# Playwright drives Debian's Chromium (/usr/bin/chromium); it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM := /usr/bin/chromium

setup: $(STAMP)

# Azurite, the Azure Storage emulator, pinned in package-lock.json (tests and the demo start and stop it).
azurite: $(NODE_STAMP)

# Debian's Chromium for the browser tests, the screenshots and the digest's layout figures, where missing (as
# root, or through sudo). Where it cannot be installed the browser tests skip and say why.
chromium:
	@test -x $(CHROMIUM) || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; } || \
	  echo "Chromium could not be installed: the browser tests will be skipped"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

test: setup azurite chromium
	$(BIN)/python -m pytest

# The tests that need no local service (no Azurite, no Graph simulator): the rules, the evidence model, the
# policy file, the CLI, the digest's content, the docs.
test-fast: setup
	$(BIN)/python -m pytest -m "not integration"

# The whole pipeline on the local stack (Azurite, the Graph simulator, the local runner), ending in out/digest.html.
demo: setup azurite
	$(BIN)/python -m devtools.demo

# A fortnight at a second school (Harbour Academy) on a moving clock, across the start of British Summer Time,
# through the whole local stack; the second week's digest goes to out/harbour/.
fortnight: setup azurite
	$(BIN)/python -m devtools.fortnight

# The DSL's desk on the demo's data (.local/demo/, left by make demo), on loopback; prints its address.
serve: setup azurite
	$(BIN)/python -m devtools.serve

# The rule engine alone on the project's sample week of evidence bundles.
demo-evaluate: setup
	$(BIN)/vcaudit evaluate $(filter-out %.expected.json,$(wildcard samples/elmgrove-week/*.json)) --format table

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The shared example scenarios, when the team folder is beside the checkout.
scenarios: setup
	@if [ -x ../shared/tools/check-scenarios ]; then ../shared/tools/check-scenarios; else echo "../shared/tools/check-scenarios not found: skipped"; fi

bench: setup azurite
	$(BIN)/python bench/evaluate.py
	$(BIN)/python -m bench.gateway
	$(BIN)/python bench/digest.py

# The larger fault sweep: every storage and Graph call of a few lessons' evaluation path failed once, and killed.
bench-faults: setup azurite
	$(BIN)/python -m bench.faults

# The demo week's digest rendered to out/digest.html (and out/digest.png where Chromium is installed).
digest-preview: setup azurite chromium
	$(BIN)/python -m devtools.digest_preview

# Infrastructure checks (heavy tools, in their own venv): every Bicep file parses, and checkov passes.
infra-check: $(INFRA_STAMP)
	$(INFRA_VENV)/bin/python -m pytest -q --noconftest -p no:cacheprovider tests/test_infra.py
	$(INFRA_VENV)/bin/checkov -d infra --framework bicep --quiet --compact --skip-download

$(INFRA_STAMP): requirements-infra.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r requirements-infra.txt
	@touch $(INFRA_STAMP)

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules out .local .pytest_cache .mypy_cache .ruff_cache
