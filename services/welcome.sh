#!/usr/bin/env bash
# Printed at the end of `make run`: where everything is and what to try.
. "$(dirname "$0")/common.sh"
RUN_DATE="${1:-$(date -u +%F)}"
PASSWORD="$("$REPO_ROOT/services/airflow.sh" password 2>/dev/null || echo '(see make airflow)')"
cat <<MSG

  IMDb lakehouse is up, and the pipeline ran once for $RUN_DATE on the bundled sample.

  API          http://127.0.0.1:${API_PORT:-8008}/docs
  Airflow UI   http://127.0.0.1:${AIRFLOW_PORT:-8080}   user admin, password $PASSWORD
  dbt docs     http://127.0.0.1:${DOCS_PORT:-8081}
  Spark UI     http://127.0.0.1:${SPARK_UI_PORT:-4040}   (each statement's jobs and stages)

  Try:
    curl 'http://127.0.0.1:${API_PORT:-8008}/top_actor_actress?role=actress&limit=5'
    curl -X POST http://127.0.0.1:${API_PORT:-8008}/top_actor_actress/ -H 'Content-Type: application/json' -d '{"role": "actor"}'
    curl 'http://127.0.0.1:${API_PORT:-8008}/etl_pipeline_status?date=$RUN_DATE'
    make pipeline RUN_DATE=$(date -u -d "$RUN_DATE + 1 day" +%F) IMDB_BASE_URL=file://$REPO_ROOT/sample_data/day2/   # the next day, incrementally
    source .venv/bin/activate && dbt build --select +actor_actress_kpis

  make status   what runs where;   make down   stop it all;   make clean   start over
MSG
