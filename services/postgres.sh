#!/usr/bin/env bash
# Project-local PostgreSQL cluster under DATA_DIR on 127.0.0.1:5433, with database `imdb`, a writer role
# for the pipeline and a read-only role for the API. Skipped when DATABASE_URL points at your own server.
# usage: services/postgres.sh start|stop|status|psql
. "$(dirname "$0")/common.sh"

PG_HOST=127.0.0.1
PG_PORT="${PG_PORT:-5433}"
PG_DB="${PG_DB:-imdb}"
PG_WRITER="${PG_WRITER_USER:-imdb_writer}"
PG_READER="${PG_READER_USER:-imdb_reader}"
# Shorter than publish's patience (PUBLISH_LOCK_ATTEMPTS x PUBLISH_LOCK_TIMEOUT_MS, about 30 s).
PG_READER_IDLE_IN_TRANSACTION_TIMEOUT="${PG_READER_IDLE_IN_TRANSACTION_TIMEOUT:-5s}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
LOGFILE="$LOG_DIR/postgres.log"

[ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin).
Install them: sudo apt-get install -y postgresql  (make setup does this when run as root)"

# initdb refuses to run as root: as root the cluster belongs to the `postgres` OS user, which must be able
# to reach the directory. A clone under /root (mode 0700) is not reachable: fall back to /var/tmp.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_base() {
  local base="$DATA_DIR/postgres"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$base"
    chown postgres: "$base"
    if ! runuser -u postgres -- test -w "$base"; then
      base="/var/tmp/imdb-lakehouse-pg-$(printf '%s' "$DATA_DIR" | md5sum | cut -c1-8)"
      mkdir -p "$base"; chown postgres: "$base"
      [ -f "$DATA_DIR/postgres/WHERE" ] || log "postgres cannot reach $DATA_DIR/postgres (an ancestor is not traversable); using $base"
      echo "$base" >"$DATA_DIR/postgres/WHERE"
    fi
  else
    mkdir -p "$base"
  fi
  echo "$base"
}
BASE="$(pg_base)"
PGDATA="$BASE/data"
SOCK_DIR="$BASE/socket"
# The superuser's password, generated once, readable by the cluster's owner only: the local socket asks for a
# password like TCP does, so no other local user gets in as a database role it does not know the password of.
PASSFILE="$BASE/superuser.pgpass"

psql_admin() { as_pg env PGPASSFILE="$PASSFILE" "$PG_BIN/psql" -h "$SOCK_DIR" -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

ensure_passfile() {
  as_pg test -s "$PASSFILE" && return 0
  # shellcheck disable=SC2016
  as_pg sh -c 'umask 077; printf "*:*:*:postgres:%s\n" "$1" >"$2"' _ "$(openssl rand -hex 16)" "$PASSFILE"
}

# Clusters made before local connections needed a password (peer, or trust when not run as root): give the
# superuser its password while the old rule still lets us in, then ask for passwords on the socket too.
require_local_password() {
  as_pg grep -Eq '^local[[:space:]]+.*[[:space:]](trust|peer)[[:space:]]*$' "$PGDATA/pg_hba.conf" || return 0
  log "postgres: local socket connections now need a password (was trust/peer)"
  as_pg "$PG_BIN/psql" -h "$SOCK_DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA \
    -c "alter role postgres password '$(as_pg cut -d: -f5 "$PASSFILE")'" >/dev/null
  as_pg sed -i -E 's/^(local[[:space:]].*[[:space:]])(trust|peer)[[:space:]]*$/\1scram-sha-256/' "$PGDATA/pg_hba.conf"
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" reload >/dev/null
}

require_passwords() {
  [ -n "${PG_WRITER_PASSWORD:-}" ] && [ -n "${PG_READER_PASSWORD:-}" ] || die "PG_WRITER_PASSWORD and PG_READER_PASSWORD must be set (make setup writes them to .env from .env.example)"
}

start() {
  if [ -n "${DATABASE_URL:-}" ] && [ "${DATABASE_URL}" != "local" ]; then
    log "postgres: DATABASE_URL is set, using that server (no local cluster)"; return 0
  fi
  require_passwords
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "postgres: already running on $PG_HOST:$PG_PORT ($PGDATA)"
  else
    port_open "$PG_HOST" "$PG_PORT" && die "port $PG_HOST:$PG_PORT is taken by another process (not ours); stop it or set PG_PORT"
    ensure_passfile
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      log "postgres: initdb $PGDATA"
      as_pg mkdir -p "$PGDATA" "$SOCK_DIR"
      local pwfile="$BASE/.initdb-pw" auth=(--auth-local=scram-sha-256 --auth-host=scram-sha-256)
      # shellcheck disable=SC2016
      as_pg sh -c 'umask 077; cut -d: -f5 "$1" >"$2"' _ "$PASSFILE" "$pwfile"
      as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" "${auth[@]}" -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
        || as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" "${auth[@]}" -E UTF8 --locale=C >>"$LOG_DIR/postgres-initdb.log" 2>&1 \
        || { as_pg rm -f "$pwfile"; die "initdb failed; see $LOG_DIR/postgres-initdb.log"; }
      as_pg rm -f "$pwfile"
    fi
    # the log may quote statements (and so passwords): private, like the socket's directory
    (umask 077; touch "$LOGFILE"); chmod 600 "$LOGFILE"; [ "$(id -u)" = 0 ] && chown postgres: "$LOGFILE"
    as_pg mkdir -p "$SOCK_DIR"
    as_pg chmod 700 "$BASE" "$SOCK_DIR"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 60 start \
      -o "-h $PG_HOST -p $PG_PORT -k $SOCK_DIR -c shared_buffers=512MB -c max_connections=200 -c fsync=on" >/dev/null \
      || die "postgres did not start; see $LOGFILE"
    log "postgres: running on $PG_HOST:$PG_PORT ($PGDATA)"
  fi
  ensure_passfile
  require_local_password
  bootstrap
}

# Roles and database; idempotent (passwords re-applied from the environment every start). The SQL is in
# serving/roles.sql, read through roles_sql (common.sh), on stdin: the postgres OS user need not read the clone.
bootstrap() {
  local vars=(-v writer="$PG_WRITER" -v reader="$PG_READER" -v db="$PG_DB"
    -v writer_password="$PG_WRITER_PASSWORD" -v reader_password="$PG_READER_PASSWORD"
    -v reader_idle_timeout="$PG_READER_IDLE_IN_TRANSACTION_TIMEOUT")
  roles_sql roles databases | psql_admin -U postgres -d postgres "${vars[@]}" >/dev/null
  roles_sql reader_privileges | psql_admin -U postgres -d "$PG_DB" "${vars[@]}" >/dev/null
}

status() {
  if [ -n "${DATABASE_URL:-}" ] && [ "${DATABASE_URL}" != "local" ]; then echo "postgres      external  DATABASE_URL"; return 0; fi
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "postgres      running  pid $(as_pg head -n 1 "$PGDATA/postmaster.pid")  $PG_HOST:$PG_PORT  $LOGFILE"
  else echo "postgres      stopped   -  $PG_HOST:$PG_PORT  $LOGFILE"; return 3; fi
}

stop() {
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null && log "postgres: stopped"
  else log "postgres: not running"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  psql) shift; psql_admin -U postgres -d "$PG_DB" "$@" ;;
  *) echo "usage: $0 start|stop|status|psql" >&2; exit 2 ;;
esac
