# Robustness, Reproduced — see README.md.
#   make test   set up .venv if needed, run the whole test suite (what CI runs)
#   make book   set up .venv if needed, execute every chapter (preset cpu), build the HTML book
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: setup test book bench lint lock clean

# The venv is (re)installed only when the dependency files change.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

book: $(STAMP)
	$(BIN)/robustbook book --jobs $(JOBS)

bench: $(STAMP)
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_agreement.py

lint: $(STAMP)
	$(BIN)/ruff check lib tests bench

lock: $(STAMP)
	( echo "# Every package of the book's environment, exact versions (regenerate: make lock)."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^robustbook' ) > requirements.lock

clean:
	rm -rf book/_build book/chapters/*.ipynb book/chapters/*.json results
