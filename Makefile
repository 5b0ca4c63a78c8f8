# The two commands a new user needs:  make run   (set up, then start the chat app)
#                                      make test  (set up, then run the whole test suite)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test chromium

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python app.py

# The browser tests drive Debian's chromium; install it when we may (root) and it is missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else echo "chromium missing: sudo apt-get install chromium (browser tests will be skipped)"; fi; \
	fi

# The import contracts (pyproject.toml) first: the tree keeps its shape, or the tests do not run.
test: install chromium
	$(BIN)/lint-imports
	$(BIN)/python -m pytest
