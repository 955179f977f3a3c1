# gan-l2: `make lab` to learn, `make test` to check everything. Needs only Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Per-cell time limit for notebooks under CI (quick mode keeps each notebook under ~60 s).
CELL_TIMEOUT ?= 600
# Debian's Chromium, driven by playwright in tests/browser (the path is fixed there too).
CHROMIUM := /usr/bin/chromium

.PHONY: setup lab test test-unit test-notebooks test-browser lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Jupyter refuses to run as root (containers, this CI machine) unless told it is intended.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/nbstripout --verify notebooks/*.ipynb

test-unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/browser

test-notebooks: setup
	GAN_L2_QUICK=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider notebooks

# The slider notebooks in JupyterLab + headless Chromium (tests/browser). Skipped, with the
# reason, where /usr/bin/chromium or playwright is missing; GAN_L2_REQUIRE_BROWSER=1 (.ci/run)
# turns that skip into a failure.
test-browser: setup
	@test -x $(CHROMIUM) || echo "NOTE: $(CHROMIUM) not found: the browser tests will be SKIPPED" \
		"(install it: apt-get install -y chromium)"
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser

test: lint test-unit test-notebooks test-browser

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
