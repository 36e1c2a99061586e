# IMDb lakehouse: IMDb TSV snapshots -> Delta landing (Spark Thrift) -> dbt star schema + KPIs -> PostgreSQL -> API.
#
# Variables (override on the command line or in .env):
#   DATA_DIR       where cache, warehouse, metastore, logs and the PostgreSQL cluster live  (default ./.data)
#   RUN_DATE       the daily run to execute with `make pipeline`                             (default: today, UTC)
#   IMDB_BASE_URL  where the IMDb files come from   (default for make run: the bundled sample, no network)
#   SCALE          synthetic data scale for `make bench` (1.0 ~ the full 2026 IMDb)          (default 0.1)
#   PYTEST_ARGS    extra arguments for `make test`, e.g. PYTEST_ARGS="-k landing -x"
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV      := .venv
PY        := $(VENV)/bin/python
RUN_DATE  ?= $(shell date -u +%F)
SCALE     ?= 0.1
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_PROJECT_DIR := $(CURDIR)/dbt_imdb
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: help setup up down status test lint docs dbt-build

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## install what is missing (OS packages as root, .venv from requirements.lock, .env, Delta jars); idempotent
	@services/setup.sh

up: setup ## start the Spark Thrift server (127.0.0.1:10000) and PostgreSQL (127.0.0.1:5433); idempotent
	@services/postgres.sh start
	@services/thrift.sh start

down: ## stop every service the project started (by pid), leaving no process behind
	@services/docs.sh stop
	@services/thrift.sh stop
	@services/postgres.sh stop

status: ## name each service, its pid, address and log file
	@services/thrift.sh status || true
	@services/docs.sh status || true
	@services/postgres.sh status || true

test: setup ## the whole test suite against real services (starts what it needs)
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup ## ruff (lint + format check) and sqlfluff on the dbt models
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/sqlfluff lint dbt_imdb/models

docs: up ## generate the dbt docs and serve them on http://127.0.0.1:8081
	@services/docs.sh start

dbt-build: up ## dbt build --select +actor_actress_kpis (the cleansed star schema and the KPIs, with tests)
	@$(VENV)/bin/dbt build --select +actor_actress_kpis
