#!/usr/bin/env bash
# The dbt docs site on 127.0.0.1:8081: `dbt docs generate` (needs the Thrift server for the catalog), then
# `dbt docs serve` in the background. usage: services/docs.sh start|stop|status
. "$(dirname "$0")/common.sh"
HOST=127.0.0.1
PORT="${DOCS_PORT:-8081}"
PIDFILE="$RUN_DIR/dbt-docs.pid"
LOGFILE="$LOG_DIR/dbt-docs.log"
export DBT_PROFILES_DIR="$REPO_ROOT" DBT_PROJECT_DIR="$REPO_ROOT/dbt_imdb" DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1

start() {
  if pid_alive "$PIDFILE"; then log "dbt-docs: already running (pid $(cat "$PIDFILE")) on http://$HOST:$PORT"; return 0; fi
  port_open "$HOST" "$PORT" && die "port $HOST:$PORT is taken by another process (not ours); set DOCS_PORT"
  log "dbt-docs: generating (log $LOGFILE)"
  if ! (cd "$REPO_ROOT" && dbt docs generate >"$LOGFILE" 2>&1); then
    # Compiling some tests queries the models' tables: before the first pipeline run they do not exist yet.
    grep -q TABLE_OR_VIEW_NOT_FOUND "$LOGFILE" || die "dbt docs generate failed; see $LOGFILE"
    log "dbt-docs: no models built yet (make pipeline builds them): docs without compiled SQL for now"
    (cd "$REPO_ROOT" && dbt docs generate --no-compile >>"$LOGFILE" 2>&1) || die "dbt docs generate failed; see $LOGFILE"
  fi
  cd "$REPO_ROOT/dbt_imdb"
  nohup dbt docs serve --host "$HOST" --port "$PORT" --no-browser >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"  # dbt's own pid, so `stop` ends the server itself
  local i
  for i in $(seq 1 30); do port_open "$HOST" "$PORT" && { log "dbt-docs: http://$HOST:$PORT (pid $(cat "$PIDFILE"))"; return 0; }; sleep 0.5; done
  die "dbt docs serve did not listen on $HOST:$PORT; see $LOGFILE"
}

status() {
  if pid_alive "$PIDFILE"; then echo "dbt-docs      running  pid $(cat "$PIDFILE")  $HOST:$PORT  $LOGFILE"
  else echo "dbt-docs      stopped   -  $HOST:$PORT  $LOGFILE"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid dbt-docs "$PIDFILE" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
