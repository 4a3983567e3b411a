# Conveyor: `make up` runs everything, `make test` proves it. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export VAR_DIR ?= $(CURDIR)/var

.PHONY: install up test test-fast lint bench status ctl logs reload clean

install: $(STAMP)

# Reinstall when the dependencies change; exact versions come from constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python >= 3.11 is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

up: install
	$(BIN)/python manage.py up

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The quick tests only (no real workers, stacks, simulators or browser): a couple of minutes.
test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

# supervisorctl for the supervisord `make up` runs, whose socket lives in VAR_DIR.
SUPERVISORCTL := $(BIN)/supervisorctl -c supervisor/supervisord.conf -s unix://$(VAR_DIR)/run/supervisor.sock

status:
	$(SUPERVISORCTL) status

# Any supervisorctl command: make ctl ARGS="restart workers:worker-payments"
ctl:
	$(SUPERVISORCTL) $(ARGS)

# Graceful deploy: pools finish what they hold, new code takes over (queue:restart).
reload:
	$(BIN)/python manage.py reload

logs:
	tail -F var/log/*.log

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
