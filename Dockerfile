# One image for every service of docker-compose.yml, laid out like a clone after `make setup`: the pinned
# requirements.lock in /opt/imdb/.venv and Delta's jars resolved at build time, so the services/ scripts
# (which call .venv/bin/…, spark-submit, curl, openssl) run unchanged. Checked by tests/unit/test_compose.py.
FROM python:3.11-slim-bookworm
# java: Spark; procps: ps, used by Spark's scripts; curl: healthchecks and the Airflow start script;
# openssl: the start scripts generate secrets with it; make: the Makefile's targets; postgresql-client: psql
RUN apt-get update && apt-get install -y --no-install-recommends \
        openjdk-17-jre-headless procps curl openssl make postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/imdb
COPY requirements.lock .
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv venv .venv --python /usr/local/bin/python3.11 \
    && uv pip install --python .venv/bin/python --no-cache -r requirements.lock
COPY . .
ENV DATA_DIR=/data IVY_DIR=/opt/ivy PATH=/opt/imdb/.venv/bin:$PATH \
    DBT_PROFILES_DIR=/opt/imdb DBT_PROJECT_DIR=/opt/imdb/dbt_imdb \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1 AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
# Delta's jars into the image (IVY_DIR), not the data volume: resolved from Maven Central once, at build time
RUN uv pip install --python .venv/bin/python --no-deps -e . \
    && DATA_DIR=/tmp/build services/thrift.sh resolve \
    && rm -rf /tmp/build
