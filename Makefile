# gan-l2: `make lab` to learn, `make test` to check everything. Needs only Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Per-cell time limit for notebooks under CI (quick mode keeps each notebook under ~60 s).
CELL_TIMEOUT ?= 600

.PHONY: setup lab test test-unit test-notebooks lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/

lint: setup
	$(BIN)/ruff check .
	$(BIN)/nbstripout --verify notebooks/*.ipynb

test-unit: setup
	$(BIN)/python -m pytest tests

test-notebooks: setup
	GAN_L2_QUICK=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider notebooks

test: lint test-unit test-notebooks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
