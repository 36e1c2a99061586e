# IMDb lakehouse: IMDb TSV snapshots -> Delta landing (Spark Thrift) -> dbt star schema + KPIs -> PostgreSQL -> API.
#
# Variables (override on the command line or in .env):
#   DATA_DIR       where cache, warehouse, metastore, logs and the PostgreSQL cluster live  (default ./.data)
#   RUN_DATE       the daily run to execute with `make pipeline`                             (default: today, UTC)
#   IMDB_BASE_URL  where the IMDb files come from  (make run / make pipeline: the bundled sample_data/day1,
#                  no network; https://datasets.imdbws.com/ for the real data)
#   FULL_REFRESH   true to rebuild every dbt model in `make pipeline`                          (default false)
#   SCALE          synthetic data scale for `make bench` (1.0 ~ the full 2026 IMDb)          (default 0.1)
#   PYTEST_ARGS    extra arguments for `make test`, e.g. PYTEST_ARGS="-k landing -x"
#   CLEAN_CACHE    1 to let `make clean` remove the download cache (DATA_DIR/cache) too      (default: kept)
#   YES            1 to let `make clean` remove DATA_DIR without asking
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV      := .venv
PY        := $(VENV)/bin/python
RUN_DATE  ?= $(shell date -u +%F)
SCALE     ?= 0.1
SAMPLE_URL := file://$(CURDIR)/sample_data/day1/
IMDB_BASE_URL := $(or $(IMDB_BASE_URL),$(SAMPLE_URL))
FULL_REFRESH ?= false
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_PROJECT_DIR := $(CURDIR)/dbt_imdb
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: help setup up down status test test-unit lint docs dbt-build run pipeline airflow api bench bench-api \
	schedule-on schedule-off lock-check clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## install what is missing (OS packages as root, .venv from requirements.lock, .env, Delta jars); idempotent
	@services/setup.sh

up: setup ## start the Spark Thrift server (127.0.0.1:10000) and PostgreSQL (127.0.0.1:5433); idempotent
	@services/postgres.sh start
	@services/thrift.sh start

run: up ## on a fresh machine: install, start the stack, run the pipeline once on the bundled sample, serve it all
	@services/airflow.sh pipeline $(RUN_DATE) "$(IMDB_BASE_URL)" $(FULL_REFRESH)
	@services/api.sh start
	@services/docs.sh start
	@services/airflow.sh start
	@services/welcome.sh $(RUN_DATE)

pipeline: up ## one daily run of the imdb_pipeline DAG through Airflow and Cosmos: RUN_DATE=… [IMDB_BASE_URL=…]
	@services/airflow.sh pipeline $(RUN_DATE) "$(IMDB_BASE_URL)" $(FULL_REFRESH)

airflow: up ## the Airflow UI on http://127.0.0.1:8080 with scheduler and triggerer (prints the password, schedule state)
	@services/airflow.sh start

schedule-on: up ## switch imdb_pipeline's daily schedule on: each day downloads the real IMDb files (~1.3 GB)
	@services/airflow.sh schedule-on

schedule-off: up ## switch imdb_pipeline's daily schedule off (the DAG is paused)
	@services/airflow.sh schedule-off

api: up ## the API on http://127.0.0.1:8008 (OpenAPI docs at /docs)
	@services/api.sh start

down: ## stop every service the project started (by pid), leaving no process behind
	@services/api.sh stop
	@services/airflow.sh stop
	@services/docs.sh stop
	@services/thrift.sh stop
	@services/postgres.sh stop

status: ## name each service, its pid, address and log file
	@services/thrift.sh status || true
	@services/docs.sh status || true
	@services/api.sh status || true
	@services/airflow.sh status || true
	@services/postgres.sh status || true

test: ## the whole test suite against real services (starts what it needs; installs Chromium for screenshots)
	@services/setup.sh --tests
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: setup ## the tests that need no service, in seconds (tests/unit)
	@$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

lock-check: setup ## show that requirements.lock resolves for Python 3.11, 3.12 and 3.13
	@services/lock-check.sh

clean: ## stop the stack, then remove DATA_DIR after asking; keeps the download cache unless CLEAN_CACHE=1
	@services/clean.sh

lint: setup ## ruff (lint + format check), the direction of imports (lint-imports) and sqlfluff on the dbt models
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports
	@$(VENV)/bin/sqlfluff lint dbt_imdb/models

bench: up ## benchmark landing, dbt and publish on synthetic data (SCALE=0.1) with DuckDB and gzip baselines
	@$(PY) bench/run.py --scale $(SCALE) $(BENCH_ARGS)

bench-api: up ## the API under wrk load on a 1M-row KPI table, next to pgbench running the same SQL
	@$(PY) bench/api.py

docs: up ## generate the dbt docs and serve them on http://127.0.0.1:8081
	@services/docs.sh start

dbt-build: up ## dbt build --select +actor_actress_kpis (the cleansed star schema and the KPIs, with tests)
	@$(VENV)/bin/dbt build --select +actor_actress_kpis
