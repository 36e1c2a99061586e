# One image for every service of docker-compose.yml: Python 3.11, Java 17, the pinned requirements.lock.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/imdb
COPY requirements.lock .
RUN pip install --no-cache-dir uv==0.13.9 && uv pip install --system --no-cache -r requirements.lock
COPY . .
RUN uv pip install --system --no-deps -e .
ENV DATA_DIR=/data DBT_PROFILES_DIR=/opt/imdb DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1 \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
