#!/usr/bin/env bash
# docker-compose only, run once by the postgres image on an empty volume: the read-only role for the API
# (the writer is the image's POSTGRES_USER) and Airflow's metadata database, as services/postgres.sh does locally.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<SQL
create role imdb_reader login password '${PG_READER_PASSWORD}';
grant connect on database "$POSTGRES_DB" to imdb_reader;
grant usage on schema public to imdb_reader;
alter default privileges in schema public grant select on tables to imdb_reader;
create database airflow owner "$POSTGRES_USER";
SQL
