#!/usr/bin/env bash
# docker-compose only, run once by the postgres image on an empty volume: the read-only role for the API
# (the writer is the image's POSTGRES_USER) and Airflow's metadata database, as services/postgres.sh does locally,
# from the same file: serving/roles.sql, mounted at /etc/imdb/roles.sql (its sections as common.sh's roles_sql
# reads them; this script runs inside the postgres image, without the clone).
set -euo pipefail
ROLES_SQL="${ROLES_SQL:-/etc/imdb/roles.sql}"
section() { sed -n "/^-- \[$1\]/,/^-- \[/p" "$ROLES_SQL" | sed '$ { /^-- \[/d }'; }
vars=(-v writer="$POSTGRES_USER" -v reader=imdb_reader -v db="$POSTGRES_DB"
  -v writer_password="$POSTGRES_PASSWORD" -v reader_password="$PG_READER_PASSWORD"
  -v reader_idle_timeout="${PG_READER_IDLE_IN_TRANSACTION_TIMEOUT:-5s}")
{ section roles; section databases; } | psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" "${vars[@]}"
section reader_privileges | psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" "${vars[@]}"
