# Conveyor: `make up` runs everything, `make test` proves it. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export VAR_DIR ?= $(CURDIR)/var

.PHONY: install up test lint bench status ctl logs reload clean

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

bench: install
	$(BIN)/python -m bench

status:
	$(BIN)/supervisorctl -c supervisor/supervisord.conf status

# Any supervisorctl command: make ctl ARGS="restart workers:worker-payments"
ctl:
	$(BIN)/supervisorctl -c supervisor/supervisord.conf $(ARGS)

# Graceful deploy: pools finish what they hold, new code takes over (queue:restart).
reload:
	$(BIN)/python manage.py reload

logs:
	tail -F var/log/*.log

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
