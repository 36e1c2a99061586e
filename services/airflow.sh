#!/usr/bin/env bash
# Airflow 3 (LocalExecutor, metadata in the project's PostgreSQL): the UI/API server on 127.0.0.1:8080,
# the scheduler, the DAG processor and the triggerer; and `pipeline`, one daily run of imdb_pipeline through
# `airflow dags test`. `schedule-on` / `schedule-off` switch the DAG's daily schedule.
# usage: services/airflow.sh start|stop|status|pipeline RUN_DATE [BASE_URL] [FULL_REFRESH]|password|prepare|schedule-on|schedule-off
. "$(dirname "$0")/common.sh"
. "$REPO_ROOT/services/airflow-env.sh"
# the triggerer runs deferred tasks (the UI's health panel shows it); without it they would never resume
COMPONENTS=(api-server scheduler dag-processor triggerer)
# Everything Airflow writes (the generated admin password, the api-server log that prints it, task logs) is
# readable by its owner only.
umask 077

# metadata DB migrated, dbt manifest parsed (Cosmos renders the DAG from it), the DAG serialized
# (the first two side by side: ~4 s each, mostly Python start-up, on two cores)
prepare() {
  airflow db migrate >"$LOG_DIR/airflow-migrate.log" 2>&1 &
  local migrate=$!
  (cd "$REPO_ROOT" && dbt parse --quiet >"$LOG_DIR/dbt-parse.log" 2>&1) || { wait "$migrate"; die "dbt parse failed; see $LOG_DIR/dbt-parse.log"; }
  wait "$migrate" || die "airflow db migrate failed; see $LOG_DIR/airflow-migrate.log"
  airflow dags reserialize >"$LOG_DIR/airflow-reserialize.log" 2>&1 || die "airflow dags reserialize failed; see $LOG_DIR/airflow-reserialize.log"
}

password() {
  local f="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  [ -f "$f" ] && "$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$f"
}

start() {
  prepare
  local c args
  chmod 600 "$LOG_DIR"/airflow-*.log 2>/dev/null || true  # logs of an earlier start, made before they were private
  for c in "${COMPONENTS[@]}"; do
    if pid_alive "$RUN_DIR/airflow-$c.pid"; then log "airflow $c: already running (pid $(cat "$RUN_DIR/airflow-$c.pid"))"; continue; fi
    if [ "$c" = api-server ] && port_open 127.0.0.1 "$AIRFLOW__API__PORT"; then
      die "port 127.0.0.1:$AIRFLOW__API__PORT is taken by another process (not ours); set AIRFLOW_PORT"
    fi
    : >"$LOG_DIR/airflow-$c.log"; chmod 600 "$LOG_DIR/airflow-$c.log"  # an older log keeps its mode otherwise
    # No log server (it would listen on every interface): the UI reads task logs from the files directly.
    case "$c" in scheduler | triggerer) args=(--skip-serve-logs) ;; *) args=() ;; esac
    nohup airflow "$c" "${args[@]}" >"$LOG_DIR/airflow-$c.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/airflow-$c.pid"
  done
  local i
  for i in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1 && break
    pid_alive "$RUN_DIR/airflow-api-server.pid" || die "airflow api-server exited; see $LOG_DIR/airflow-api-server.log"
    sleep 1
  done
  curl -fsS "http://127.0.0.1:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1 || die "Airflow UI did not answer within 120 s; see $LOG_DIR/airflow-api-server.log"
  local f="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"; [ -f "$f" ] && chmod 600 "$f"
  log "airflow: UI on http://127.0.0.1:$AIRFLOW__API__PORT  (user admin, password $(password))"
  schedule_note
}

# is_paused: "true" / "false" for imdb_pipeline, from the metadata database (the CLI takes seconds to start).
is_paused() {
  "$VENV/bin/python" - <<'PY'
import os, sqlalchemy as sa
engine = sa.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
with engine.connect() as c:
    print(str(c.execute(sa.text("select is_paused from dag where dag_id = 'imdb_pipeline'")).scalar()).lower())
PY
}

schedule_note() {
  local base="${IMDB_BASE_URL:-https://datasets.imdbws.com/}"
  if [ "$(is_paused)" = false ]; then
    log "airflow: imdb_pipeline is ON: every day at 00:00 UTC it downloads that day's IMDb files from $base"
    log "         into $DATA_DIR/cache/<date>/ and runs the pipeline. Switch it off: make schedule-off"
  else
    log "airflow: imdb_pipeline is PAUSED: its @daily schedule does not run (a new DAG starts paused)."
    log "         Switch it on: make schedule-on (or the toggle in the UI). Each day at 00:00 UTC it then downloads"
    log "         that day's IMDb files from $base (~1.3 GB for the real ones) into $DATA_DIR/cache/<date>/."
  fi
}

schedule() {
  prepare
  airflow dags "$1" imdb_pipeline >"$LOG_DIR/airflow-$1.log" 2>&1 || die "airflow dags $1 failed; see $LOG_DIR/airflow-$1.log"
  schedule_note
}

stop() {
  local c
  for c in "${COMPONENTS[@]}"; do stop_pid "airflow $c" "$RUN_DIR/airflow-$c.pid"; done
}

status() {
  local c rc=0
  for c in "${COMPONENTS[@]}"; do
    if pid_alive "$RUN_DIR/airflow-$c.pid"; then
      printf '%-22s running  pid %s  %s  %s\n' "airflow-$c" "$(cat "$RUN_DIR/airflow-$c.pid")" \
        "$([ "$c" = api-server ] && echo "127.0.0.1:$AIRFLOW__API__PORT" || echo "-")" "$LOG_DIR/airflow-$c.log"
    else printf '%-22s stopped   -  %s\n' "airflow-$c" "$LOG_DIR/airflow-$c.log"; rc=3; fi
  done
  return $rc
}

# One daily run through Airflow and Cosmos, in this process (no scheduler needed); non-zero when any task failed.
pipeline() {
  local run_date="${1:?RUN_DATE}" base_url="${2:-}" full_refresh="${3:-false}"
  prepare
  local conf; conf="$("$VENV/bin/python" -c 'import json,sys; print(json.dumps({"run_date": sys.argv[1], "base_url": sys.argv[2] or None, "full_refresh": sys.argv[3].lower() in ("1","true","yes")}))' "$run_date" "$base_url" "$full_refresh")"
  local out="$LOG_DIR/pipeline-$run_date.log"
  log "imdb_pipeline $run_date: airflow dags test, each task as it finishes (whole log $out)"
  # dagrun_progress.py keeps the whole stream in $out, each task's part where the Airflow UI reads task logs
  if "$VENV/bin/python" "$REPO_ROOT/services/dagrun_progress.py" "$out" airflow dags test imdb_pipeline "$run_date" -c "$conf"; then
    log "imdb_pipeline $run_date: success"
  else
    log "imdb_pipeline $run_date: FAILED (whole log $out)"
    exit 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  prepare) prepare ;;
  password) password ;;
  schedule-on) schedule unpause ;;
  schedule-off) schedule pause ;;
  pipeline) shift; pipeline "$@" ;;
  run) prepare; exec airflow standalone ;;  # containers
  *) echo "usage: $0 start|stop|status|prepare|password|schedule-on|schedule-off|pipeline RUN_DATE [BASE_URL] [FULL_REFRESH]" >&2; exit 2 ;;
esac
