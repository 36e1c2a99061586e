#!/usr/bin/env bash
# The FastAPI service (uvicorn) on 127.0.0.1:8008, reading PostgreSQL as the read-only role, with API_WORKERS
# worker processes (default: one per core); settings in api/settings.py.
# usage: services/api.sh start|stop|status
. "$(dirname "$0")/common.sh"
HOST="${API_HOST:-127.0.0.1}"
PORT="${API_PORT:-8008}"
PIDFILE="$RUN_DIR/api.pid"
LOGFILE="$LOG_DIR/api.log"

start() {
  if pid_alive "$PIDFILE"; then log "api: already running (pid $(cat "$PIDFILE")) on http://$HOST:$PORT"; return 0; fi
  port_open "$HOST" "$PORT" && die "port $HOST:$PORT is taken by another process (not ours); set API_PORT"
  cd "$REPO_ROOT"
  # 1,000 client connections need more open files than the usual soft limit of 1,024: take what is allowed.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nohup python -m api >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"  # the uvicorn supervisor's own pid: `stop` ends it, and it ends its workers
  local i
  for i in $(seq 1 60); do
    curl -fsS "http://$HOST:$PORT/openapi.json" >/dev/null 2>&1 && { log "api: http://$HOST:$PORT (docs at /docs, pid $(cat "$PIDFILE"))"; return 0; }
    pid_alive "$PIDFILE" || die "api exited while starting; see $LOGFILE"
    sleep 0.5
  done
  die "api did not answer on $HOST:$PORT; see $LOGFILE"
}

status() {
  if pid_alive "$PIDFILE"; then echo "api           running  pid $(cat "$PIDFILE")  $HOST:$PORT  $LOGFILE"
  else echo "api           stopped   -  $HOST:$PORT  $LOGFILE"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid api "$PIDFILE" ;;
  status) status ;;
  run) cd "$REPO_ROOT"; exec uvicorn api.main:app --host "$HOST" --port "$PORT" --workers 1 ;;  # foreground, for containers
  *) echo "usage: $0 start|stop|status|run" >&2; exit 2 ;;
esac
