# Ledgerline. `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run test lint imports typecheck check-migrations format check-db migrations worker beat

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv and install the pinned dependencies

run: $(STAMP) ## Migrate, load demo data, create a staff login, serve on 127.0.0.1:8000 (SQLite, eager Celery)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	$(PY) manage.py ensure_demo_staff
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP) lint imports typecheck check-migrations check-db ## Lint, check imports, types and migrations, then run the whole suite on PostgreSQL (DATABASE_URL)
	@# The browser tests drive Debian's Chromium; they fail (never skip) where it is missing.
	-command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	DATABASE_URL=$(DATABASE_URL) $(PY) -m pytest -n $(PYTEST_WORKERS) -q $(PYTEST_ARGS)

check-migrations: $(STAMP) ## Fail when the models and the migrations differ
	@DATABASE_URL=$(DATABASE_URL) DJANGO_SETTINGS_MODULE=config.settings.test \
		$(PY) manage.py makemigrations --check --dry-run > /dev/null \
		|| { echo "Models and migrations differ: run 'make migrations' and commit them."; exit 1; }

check-db: $(STAMP)
	@DATABASE_URL=$(DATABASE_URL) $(PY) scripts/check_db.py

lint: $(STAMP) ## ruff: lint, and check the formatting
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

imports: $(STAMP) ## import-linter: the layers and the service contracts (pyproject.toml)
	$(VENV)/bin/lint-imports

typecheck: $(STAMP) ## mypy with django-stubs: services, selectors, locks and money (pyproject.toml)
	$(VENV)/bin/mypy

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations: $(STAMP) ## Make migrations after a model change
	$(PY) manage.py makemigrations

worker: $(STAMP) ## Start a Celery worker (CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${CONCURRENCY:-2}

beat: $(STAMP) ## Start Celery beat with the database scheduler
	$(VENV)/bin/celery -A config beat --loglevel=INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler
