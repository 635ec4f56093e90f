# lgm: build, test and render the executable book.
#
#   make test                         ruff + pytest
#   make book [PRESET=auto]           execute every notebooks/*.py, then build the HTML book
#                                     (auto: paper for a page whose paper runs are all committed,
#                                     quick otherwise; nothing is ever trained at paper on a CPU)
#   make paper [DEVICE=cuda] [BUDGET_MIN=12] [BACKEND=local|ray]
#                                     the GPU owner's command: grid of every missing paper run,
#                                     copy the new results into results/, then the book
#   make figure NB=table741 PRESET=paper [DEVICE=cuda]
#                                     execute one notebook into book/notebooks/ (no book build)
#   make check-book                   read the built book in headless Chromium (after make book)
#   make harvest [BUDGET_MIN=150] [PAGES=fig3,app77] [THREADS=1]
#                                     the missing paper runs on this CPU, seed by seed, most
#                                     valuable first, at the lowest priority (log: runs/harvest.log)
#   make lint | bench | clean | browser-deps
#
# Every target that runs Python creates (or reuses) the virtualenv $(VENV); a virtualenv this
# checkout created (marked by $(VENV)/.lgm-owner) is updated when requirements.lock or
# pyproject.toml changes. Another one (VENV=<path>) is never written to: make only checks
# that it imports lgm.

VENV    ?= .venv
PYTHON  ?= python3
PRESET  ?= quick
BOOK_PRESET ?= auto
BUDGET_MIN ?=
PAGES   ?=
THREADS ?=
BACKEND ?= local
DEVICE  ?=
NB      ?=

PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.lgm-stamp
RENDER  := $(PY) scripts/render_notebook.py --preset $(PRESET) $(if $(DEVICE),--device $(DEVICE))

LINT_PATHS := $(wildcard lgm tests benchmarks notebooks scripts)
# summary.py gathers the checks every other page records, so it runs last.
NOTEBOOKS  := $(filter-out notebooks/summary.py,$(sort $(wildcard notebooks/*.py))) \
              $(wildcard notebooks/summary.py)

OWNER   := $(VENV)/.lgm-owner
# This checkout's own ./.venv is always ours (also one made before .lgm-owner existed).
OWN_DEFAULT := $(if $(filter $(abspath $(VENV)),$(CURDIR)/.venv),yes)

# `make figure` checks NB before anything is built.
ifneq ($(filter figure,$(MAKECMDGOALS)),)
  ifeq ($(NB),)
    $(error usage: make figure NB=<name> [PRESET=paper] [DEVICE=cuda]; names: $(basename $(notdir $(wildcard notebooks/*.py))))
  endif
  ifeq ($(wildcard notebooks/$(NB).py),)
    $(error no such notebook: notebooks/$(NB).py; names: $(basename $(notdir $(wildcard notebooks/*.py))))
  endif
endif

# The browser test (tests/test_book_browser.py) drives Debian's chromium + chromedriver.
HAVE_BROWSER := $(and $(shell command -v chromium 2>/dev/null),$(shell command -v chromedriver 2>/dev/null))

.PHONY: all venv test lint book notebooks figure bench clean help paper browser-deps check-book \
        harvest

all: test

help:
	@sed -n '1,15p' Makefile

# ---------------------------------------------------------------- environment
$(STAMP): requirements.lock pyproject.toml
	@if [ -x $(PY) ] && [ -z "$(OWN_DEFAULT)" ] && [ "$$(cat $(OWNER) 2>/dev/null)" != "$(CURDIR)" ]; then \
	  if $(PY) -c "import lgm, torch, jupytext, papermill, pytest" 2>/dev/null; then \
	    echo ">>> using $(VENV) as it is (this checkout did not create it, so make installs nothing there)"; \
	    exit 0; fi; \
	  echo "error: $(VENV) cannot import lgm (or torch, jupytext, papermill, pytest) and this checkout did not create it: run '$(VENV)/bin/pip install -r requirements.lock && $(VENV)/bin/pip install --no-deps -e $(CURDIR)' yourself, or leave out VENV= to use ./.venv" >&2; \
	  exit 1; fi; \
	echo ">>> creating/updating virtualenv $(VENV) from requirements.lock"; \
	set -e; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	echo "$(CURDIR)" > $(OWNER); \
	$(VENV)/bin/pip install -r requirements.lock; \
	$(VENV)/bin/pip install --no-deps -e .; \
	touch $@

venv: $(STAMP)

# Debian's chromium and chromium-driver for the browser test: installed with apt-get when
# absent and this is root (CI: a fresh machine); otherwise one line on how to get them
# (the browser test then skips, except on CI where it fails).
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo ">>> installing chromium and chromium-driver (apt-get) for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver >/dev/null; \
	else \
	  echo "note: chromium/chromedriver not found, the browser test will skip; install them with: sudo apt-get install chromium chromium-driver"; \
	fi

# ---------------------------------------------------------------- checks
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)

test: lint $(if $(HAVE_BROWSER),,browser-deps)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_stacked.py $(if $(DEVICE),--device $(DEVICE))

# ---------------------------------------------------------------- book
# Execute each jupytext notebook (percent format) with papermill into
# book/notebooks/<name>.ipynb; scripts/render_notebook.py fails if a notebook
# ends with no outputs (with execution off, Jupyter Book would build it silently empty).
notebooks: $(STAMP)
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/*.py found" >&2; exit 1; }
	$(PY) scripts/render_notebook.py --preset $(if $(filter command line,$(origin PRESET)),$(PRESET),$(BOOK_PRESET)) $(if $(DEVICE),--device $(DEVICE)) $(NOTEBOOKS)

book: notebooks
	@echo ">>> building the book (Jupyter Book 1, execution off) into _build/html"
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@# Offline check: no CDN, and no <script src> or stylesheet from another host. (sphinx-thebe
	@# writes a thebe URL into a JS constant; it is fetched only on a launch button, which is off.)
	@if grep -rliE 'cdn|<script[^>]* src="(https?:)?//|<link[^>]* href="(https?:)?//[^"]*\.css' \
	    _build/html --include='*.html'; then \
	  echo "error: the HTML pages above load a script or stylesheet from the network" >&2; exit 1; fi
	@echo ">>> book: $(CURDIR)/_build/html/index.html"

# The book `make book` built, read page by page in headless Chromium: the checks of
# tests/test_book_browser.py (console errors, images, MathJax, requests, links, figure text).
check-book: $(STAMP) $(if $(HAVE_BROWSER),,browser-deps)
	@test -f _build/html/index.html || { echo "no _build/html/index.html: run make book first" >&2; exit 2; }
	LGM_BOOK_SOURCE=$(CURDIR) $(PY) -m pytest tests/test_book_browser.py -q -p no:cacheprovider

figure: $(STAMP)
	$(RENDER) notebooks/$(NB).py

# On a GPU machine: every missing paper-preset run (whole pages first, within BUDGET_MIN), the
# new results copied from the local cache into results/ (commit them), then the book.
paper: $(STAMP)
	$(PY) -m lgm grid --preset paper --device $(or $(DEVICE),cuda) --backend $(BACKEND) \
	  $(if $(BUDGET_MIN),--budget-min $(BUDGET_MIN))
	$(PY) scripts/commit_results.py
	$(MAKE) book

# On a CPU (no GPU needed): the missing paper-preset runs, one seed at a time, in value order
# (pages it can finish, headline pages, cheapest), nice 19 and one torch thread so that it runs
# beside other work; each finished seed is in the cache at once (commit it with
# scripts/commit_results.py). Killed, it resumes from the last finished task.
harvest: $(STAMP)
	@mkdir -p runs
	OMP_NUM_THREADS=$(or $(THREADS),1) LGM_HARVEST_THREADS=$(or $(THREADS),1) nice -n 19 \
	  $(PY) -m lgm harvest $(if $(BUDGET_MIN),--budget-min $(BUDGET_MIN)) \
	  $(if $(PAGES),--pages $(PAGES)) 2>&1 | tee -a runs/harvest.log

clean:
	rm -rf _build build book/notebooks

# Every exercise of the book as a student runs it (a fresh process, an empty cache, the quick
# preset), its outcome checked against its solution; the measured times (cold and warm, wall
# and CPU, threads, machine) go to lgm/report/exercise_times.json, which the pages show.
#   make exercises [ONLY=fig3.3,kd_hm.1] [BACKGROUND=fig3.3] [PAGES=kd_hm,fig1b]
.PHONY: exercises
exercises: $(STAMP)
	$(PY) scripts/run_exercises.py $(if $(ONLY),--only $(ONLY)) $(if $(BACKGROUND),--background $(BACKGROUND)) $(if $(PAGES),--pages $(PAGES))
