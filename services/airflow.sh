#!/usr/bin/env bash
# Airflow 3 (LocalExecutor, metadata in the project's PostgreSQL): the UI/API server on 127.0.0.1:8080,
# the scheduler and the DAG processor; and `pipeline`, one daily run of imdb_pipeline through `airflow dags test`.
# usage: services/airflow.sh start|stop|status|pipeline RUN_DATE [BASE_URL] [FULL_REFRESH]|password|prepare
. "$(dirname "$0")/common.sh"
. "$REPO_ROOT/services/airflow-env.sh"
COMPONENTS=(api-server scheduler dag-processor)

# metadata DB migrated, dbt manifest parsed (Cosmos renders the DAG from it), the DAG serialized
prepare() {
  airflow db migrate >"$LOG_DIR/airflow-migrate.log" 2>&1 || die "airflow db migrate failed; see $LOG_DIR/airflow-migrate.log"
  (cd "$REPO_ROOT" && dbt parse --quiet >"$LOG_DIR/dbt-parse.log" 2>&1) || die "dbt parse failed; see $LOG_DIR/dbt-parse.log"
  airflow dags reserialize >"$LOG_DIR/airflow-reserialize.log" 2>&1 || die "airflow dags reserialize failed; see $LOG_DIR/airflow-reserialize.log"
}

password() {
  local f="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  [ -f "$f" ] && "$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$f"
}

start() {
  prepare
  local c
  for c in "${COMPONENTS[@]}"; do
    if pid_alive "$RUN_DIR/airflow-$c.pid"; then log "airflow $c: already running (pid $(cat "$RUN_DIR/airflow-$c.pid"))"; continue; fi
    if [ "$c" = api-server ] && port_open 127.0.0.1 "$AIRFLOW__API__PORT"; then
      die "port 127.0.0.1:$AIRFLOW__API__PORT is taken by another process (not ours); set AIRFLOW_PORT"
    fi
    nohup airflow "$c" >"$LOG_DIR/airflow-$c.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/airflow-$c.pid"
  done
  local i
  for i in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1 && break
    pid_alive "$RUN_DIR/airflow-api-server.pid" || die "airflow api-server exited; see $LOG_DIR/airflow-api-server.log"
    sleep 1
  done
  curl -fsS "http://127.0.0.1:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1 || die "Airflow UI did not answer within 120 s; see $LOG_DIR/airflow-api-server.log"
  log "airflow: UI on http://127.0.0.1:$AIRFLOW__API__PORT  (user admin, password $(password))"
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
  log "imdb_pipeline $run_date: airflow dags test (log $out)"
  airflow dags test imdb_pipeline "$run_date" -c "$conf" >"$out" 2>&1 || true
  grep -E "\[DAG TEST\] end task|new_state=" "$out" | sed -n 's/.*task_id=\([^ ]*\).*/\1/p' >/dev/null
  if grep -q "DagRun Finished: dag_id=imdb_pipeline.*state=success" "$out"; then
    log "imdb_pipeline $run_date: success"
  else
    log "imdb_pipeline $run_date: FAILED; failing tasks:"
    grep -E "Task failed with exception|AirflowFailException|LandingError|DownloadError|Error" "$out" | tail -n 8 >&2
    exit 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  prepare) prepare ;;
  password) password ;;
  pipeline) shift; pipeline "$@" ;;
  run) prepare; exec airflow standalone ;;  # containers
  *) echo "usage: $0 start|stop|status|prepare|password|pipeline RUN_DATE [BASE_URL] [FULL_REFRESH]" >&2; exit 2 ;;
esac
