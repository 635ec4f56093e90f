# lgm: build, test and render the executable book.
#
#   make test                         ruff + pytest
#   make book [PRESET=quick]          execute every notebooks/*.py, then build the HTML book
#   make figure NB=table741 PRESET=paper [DEVICE=cuda]
#                                     execute one notebook into book/notebooks/ (no book build)
#   make lint | bench | clean
#
# Every target that runs Python creates (or reuses) the virtualenv $(VENV); it is
# rebuilt when requirements.lock or pyproject.toml changes.

VENV    ?= .venv
PYTHON  ?= python3
PRESET  ?= quick
DEVICE  ?=
NB      ?=

PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.lgm-stamp
RENDER  := $(PY) scripts/render_notebook.py --preset $(PRESET) $(if $(DEVICE),--device $(DEVICE))

LINT_PATHS := $(wildcard lgm tests benchmarks notebooks scripts)
# summary.py gathers the checks every other page records, so it runs last.
NOTEBOOKS  := $(filter-out notebooks/summary.py,$(sort $(wildcard notebooks/*.py))) \
              $(wildcard notebooks/summary.py)

.PHONY: all venv test lint book notebooks figure bench clean help

all: test

help:
	@sed -n '1,12p' Makefile

# ---------------------------------------------------------------- environment
$(STAMP): requirements.lock pyproject.toml
	@echo ">>> creating/updating virtualenv $(VENV) from requirements.lock"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -r requirements.lock
	$(VENV)/bin/pip install --no-deps -e .
	@touch $@

venv: $(STAMP)

# ---------------------------------------------------------------- checks
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_stacked.py $(if $(DEVICE),--device $(DEVICE))

# ---------------------------------------------------------------- book
# Execute each jupytext notebook (percent format) with papermill into
# book/notebooks/<name>.ipynb; scripts/render_notebook.py fails if a notebook
# ends with no outputs (with execution off, Jupyter Book would build it silently empty).
notebooks: $(STAMP)
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/*.py found" >&2; exit 1; }
	$(RENDER) $(NOTEBOOKS)

book: notebooks
	@echo ">>> building the book (Jupyter Book 1, execution off) into _build/html"
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@# Offline check: no CDN, and no <script src> or stylesheet from another host. (sphinx-thebe
	@# writes a thebe URL into a JS constant; it is fetched only on a launch button, which is off.)
	@if grep -rliE 'cdn|<script[^>]* src="(https?:)?//|<link[^>]* href="(https?:)?//[^"]*\.css' \
	    _build/html --include='*.html'; then \
	  echo "error: the HTML pages above load a script or stylesheet from the network" >&2; exit 1; fi
	@echo ">>> book: $(CURDIR)/_build/html/index.html"

figure: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make figure NB=<name> [PRESET=paper] [DEVICE=cuda]" >&2; exit 2; }
	@test -f notebooks/$(NB).py || { echo "no such notebook: notebooks/$(NB).py" >&2; exit 2; }
	$(RENDER) notebooks/$(NB).py

clean:
	rm -rf _build build book/notebooks
