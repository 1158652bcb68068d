# genrob: two commands a user needs, `make book` and `make test` (see README.md).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV_STAMP := $(VENV)/.genrob-installed
# MathJax, served with the book (see _config.yml), so formulas render offline.
MATHJAX := node_modules/mathjax/es5/tex-mml-chtml.js
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# The book's chapters, in _toc.yml order: a notebook joins the book (and `make book`)
# once it is listed there; nbval runs every notebook either way.
CHAPTERS := $(patsubst book/chapters/%,notebooks/%.ipynb,$(shell grep -o 'book/chapters/[a-z_0-9]*' _toc.yml))
# The test suite runs everything in a cache of its own, emptied first, so a
# stale checkpoint or result can never make a test pass.
TEST_CACHE := $(CURDIR)/_build/test-cache
# `make book` renders the published evidence (the store of $(EVIDENCE_PROFILE)), computing nothing;
# `make book PROFILE=<profile>` computes that profile's book instead, training and attacking what the cache lacks.
PROFILE ?=
# What a clean clone's `make book PROFILE=...` costs per profile on a 2-core CPU: default measured, extended as
# recorded over its runs (see README), smoke from `make notebooks` (7 min) plus install and build.
BOOK_COST_smoke := about ten minutes
BOOK_COST_default := about an hour and a quarter (77 min measured from a clean clone on 2 cores of an AMD EPYC; see README)
BOOK_COST_extended := about a day on 2 cores: run it as python -m genrob evidence --profile extended, which resumes and commits as it goes, then make book
BOOK_COST_full := months on this CPU (the summary chapter estimates it); the paper's scale is for a GPU

# The evidence book: the chapters rendered from the evidence store of $(EVIDENCE_PROFILE) alone, in a cache
# of its own that the store fills; GENROB_STORE_ONLY makes any training or attack a clear error.
EVIDENCE_PROFILE ?= extended
EVIDENCE_CACHE := $(CURDIR)/_build/evidence-cache
EVIDENCE_HTML := _build/evidence-$(EVIDENCE_PROFILE)/_build/html

.PHONY: help env book evidence-book test unit nbval nbval-forced-down book-smoke book-browser chapters notebooks bench clean

help:
	@echo "make book       the published report: the book of the evidence store evidence/$(EVIDENCE_PROFILE)/, rendered into"
	@echo "                $(EVIDENCE_HTML); trains and attacks nothing (minutes; make evidence-book is the same)"
	@echo "make book PROFILE=default  recompute the book on this machine (_build/html): the default profile's preview,"
	@echo "                $(BOOK_COST_default)"
	@echo "make test       unit tests, nbval on the notebooks, the book built with -W from smoke runs and checked in Chromium"
	@echo "make notebooks  re-pair notebooks/*.py with their .ipynb and re-execute them (smoke profile, for nbval)"
	@echo "make env        create .venv with the pinned dependencies"
	@echo "make bench      time every model's forward pass, gradient and PGD against its FLOPs (not a test)"

env: $(ENV_STAMP)

$(ENV_STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	# torchattacks 3.5.1 declares requests~=2.25.1, which conflicts with the Jupyter
	# stack; its code imports neither requests nor torchvision, so it is installed
	# without its declared dependencies (the ones it does import are pinned above).
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(MATHJAX): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Run every chapter's notebook through papermill into book/chapters/ with $(PROFILE) (default: default).
chapters: $(ENV_STAMP)
	@mkdir -p book/chapters
	@for nb in $(CHAPTERS); do \
	  echo "== $$nb ($(or $(PROFILE),default) profile)"; \
	  $(BIN)/papermill "$$nb" "book/chapters/$$(basename $$nb)" -p profile $(or $(PROFILE),default) \
	    --log-output --no-progress-bar --cwd notebooks || exit 1; \
	done
	$(BIN)/python -m genrob answer --profile $(or $(PROFILE),default)

ifeq ($(PROFILE),)
book: evidence-book
else
book: $(ENV_STAMP) $(MATHJAX)
	@echo "make book PROFILE=$(PROFILE): the book recomputed on this machine. From a clean clone it installs the"
	@echo "environment, trains every model and runs every attack: $(BOOK_COST_$(PROFILE))."
	@echo "With every result cached it takes a minute or two. To spread it out, run families in the background"
	@echo "first: python -m genrob sweep FAMILY and python -m genrob adaptive FAMILY (see README); an interrupted"
	@echo "run resumes per cell. Progress bars and a line per finished (model, attack) cell follow."
	$(MAKE) --no-print-directory chapters PROFILE=$(PROFILE)
	$(BIN)/jupyter-book build --all -W .
	@echo "The book is at _build/html/index.html"
endif

evidence-book: $(ENV_STAMP) $(MATHJAX)
	@echo "make book: the published $(EVIDENCE_PROFILE) evidence, rendered from evidence/$(EVIDENCE_PROFILE)/ (nothing trained"
	@echo "or attacked; to recompute a book on this machine: make book PROFILE=default, $(BOOK_COST_default))"
	rm -rf $(EVIDENCE_CACHE)
	GENROB_CACHE=$(EVIDENCE_CACHE) $(BIN)/python -m genrob restore --profile $(EVIDENCE_PROFILE)
	GENROB_CACHE=$(EVIDENCE_CACHE) GENROB_STORE_ONLY=1 $(MAKE) --no-print-directory chapters PROFILE=$(EVIDENCE_PROFILE)
	$(BIN)/jupyter-book build --all -W --path-output _build/evidence-$(EVIDENCE_PROFILE) .
	@echo "The evidence book is at $(EVIDENCE_HTML)/index.html"

test: $(ENV_STAMP)
	rm -rf $(TEST_CACHE)
	$(MAKE) --no-print-directory unit nbval nbval-forced-down book-smoke book-browser

# The layer contracts first (pyproject.toml): an import against them fails here, named.
unit: $(ENV_STAMP)
	$(BIN)/lint-imports --no-cache
	GENROB_PROGRESS=off $(BIN)/pytest tests --ignore=tests/browser

# A cell may run a whole family's smoke sweep (the adaptive chapter's runs all
# of them in one): it gets more than the unit tests' 900 s against a hang, on a
# busy machine.
nbval: $(ENV_STAMP)
	$(NBVAL_ENV) GENROB_CACHE=$(TEST_CACHE) GENROB_PROGRESS=off $(BIN)/pytest --nbval --nbval-current-env -p no:cacheprovider \
	  --timeout 2400 $(NOTEBOOKS)

# Vector code forced down to AVX2 in every library that picks its kernels by CPU (torch, oneDNN, MKL,
# NumPy) and one thread: what another x86-64 CPU or thread count computes differently. The stored
# outputs must hold under it (the smoke profile computes in float64; see docs/measurements/two-commands).
FORCED_DOWN := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
  NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" GENROB_THREADS=1
# One notebook whose models cover dense layers, convolutions, sampling and attacks, from an empty cache of
# its own so that it trains and attacks again under those kernels (`make nbval NBVAL_ENV='$(FORCED_DOWN)'`
# runs every notebook so).
FORCED_DOWN_NOTEBOOK := notebooks/markov_random_field.ipynb
NBVAL_ENV :=

nbval-forced-down: $(ENV_STAMP)
	rm -rf $(TEST_CACHE)-forced-down
	$(MAKE) --no-print-directory nbval NOTEBOOKS=$(FORCED_DOWN_NOTEBOOK) TEST_CACHE=$(TEST_CACHE)-forced-down \
	  NBVAL_ENV='$(FORCED_DOWN)'

# The book built from smoke runs, into its own output folder so it never mixes
# with the default-profile book in _build/html.
book-smoke: $(ENV_STAMP) $(MATHJAX)
	GENROB_CACHE=$(TEST_CACHE) $(MAKE) --no-print-directory chapters PROFILE=smoke
	$(BIN)/jupyter-book build --all -W --path-output _build/smoke .

# The smoke book in headless Chromium: every page loads without a JavaScript
# error, every figure shows, every formula is typeset offline, no link is broken.
book-browser: $(ENV_STAMP)
	GENROB_BOOK_HTML=_build/smoke/_build/html $(BIN)/pytest -p no:cacheprovider tests/browser

# For maintainers: after editing notebooks/*.py, refresh the paired .ipynb and
# its stored outputs (the smoke profile, from an empty cache, as nbval reruns it).
notebooks: $(ENV_STAMP)
	rm -rf $(TEST_CACHE)
	@for py in notebooks/*.py; do \
	  $(BIN)/jupytext --sync "$$py" && \
	  GENROB_CACHE=$(TEST_CACHE) GENROB_PROGRESS=off $(BIN)/jupyter execute --inplace \
	    "$${py%.py}.ipynb" || exit 1; \
	done

# What each model costs on this machine against what its arithmetic demands
# (trains what is not cached; writes cache/results/bench-<profile>.csv; PROFILE, default: default).
bench: $(ENV_STAMP)
	$(BIN)/python -m genrob bench --profile $(or $(PROFILE),default)

clean:
	rm -rf _build book/chapters
