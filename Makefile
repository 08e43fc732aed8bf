# Atelier: `make run` serves the site with a worker; `make test` runs the checks.
# Both set up what they need first, and skip what is already done.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run worker beat test lint e2e-browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Install CPU torch 2.13.0 first where no torch is present: an unpinned resolve would
# pull a multi-GB CUDA build. Re-runs only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py load_initial_data

# The prompt book's swatches are rendered once by the embedded model (skipped when built).
run: setup
	@$(PY) manage.py build_book_swatches
	@$(PY) manage.py runlocal

# A worker alone, for more machines: point DATABASE_URL, REDIS_URL (and media storage)
# at the shared services first. GPU machines set GENERATION_MODEL to a local checkpoint.
worker: $(STAMP)
	$(PY) -m celery -A atelier_site worker --loglevel INFO --concurrency $${WORKER_CONCURRENCY:-1}

# Services mode: exactly one beat process schedules the periodic sweep and monthly grants.
beat: $(STAMP)
	$(PY) -m celery -A atelier_site beat --loglevel INFO

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf var/test-broker var/test-media var/test.sqlite3 .pytest_cache
