# gan-l2: `make lab` to learn, `make test` to check everything. Needs only Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Per-cell time limit for notebooks under CI (quick mode keeps each notebook under ~60 s).
CELL_TIMEOUT ?= 600
# Debian's Chromium, driven by playwright in tests/browser (the path is fixed there too).
CHROMIUM := /usr/bin/chromium

.PHONY: setup lab test test-unit test-notebooks test-browser lint clean book student

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# The HTML book (book/, README "Read it as a book"): Sphinx + myst-nb + sphinx-book-theme from
# the [book] extra, MathJax 3 from npm into book/.mathjax, all copied into the build: it reads
# offline and from file://.
BOOK_OUT   ?= _build/book
BOOK_STAMP := $(VENV)/.book-stamp
MATHJAX    := book/.mathjax/node_modules/mathjax

$(BOOK_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,book]'
	@touch $(BOOK_STAMP)

$(MATHJAX)/es5/tex-mml-chtml.js:
	npm install --silent --no-audit --no-fund --prefix book/.mathjax mathjax@3.2.2

# Executes every notebook (quick mode; 04 and 05 read the shipped full results), draws the λ
# explorer's pictures, builds $(BOOK_OUT)/html. A failing cell fails the build.
book: $(BOOK_STAMP) $(MATHJAX)/es5/tex-mml-chtml.js
	@start=$$(date +%s); set -e; \
	$(BIN)/python book/prepare.py $(BOOK_OUT)/src --mathjax $(MATHJAX) --quick; \
	$(BIN)/python book/make_explorer.py $(BOOK_OUT)/src/_static/explorer; \
	GAN_L2_QUICK=1 BOOK_CELL_TIMEOUT=$(CELL_TIMEOUT) $(BIN)/python -m sphinx -q -b html \
		-d $(BOOK_OUT)/doctrees $(BOOK_OUT)/src $(BOOK_OUT)/html; \
	echo "book: $(BOOK_OUT)/html/index.html ($$(du -sh $(BOOK_OUT)/html | cut -f1)," \
		"built in $$(( $$(date +%s) - start )) s)"

# Student copies of the notebooks in student/ (git-ignored): each cell tagged `solution` becomes a
# stub, and its self-check then stops with "Exercise N not done yet" (tools/make_student.py).
# A copy with answers written into it is kept unless FORCE=1.
student: setup
	$(BIN)/python tools/make_student.py student $(if $(FORCE),--force,)

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

test: lint test-unit test-notebooks student book test-browser

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache _build book/.mathjax student
