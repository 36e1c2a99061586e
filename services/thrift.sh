#!/usr/bin/env bash
# Spark Thrift server (HiveThriftServer2 from the pyspark package) with Delta Lake, on 127.0.0.1:10000.
# usage: services/thrift.sh start|stop|status|resolve
. "$(dirname "$0")/common.sh"

HOST="${THRIFT_HOST:-127.0.0.1}"
PORT="${THRIFT_PORT:-10000}"
MASTER="${SPARK_MASTER:-local[*]}"
UI_PORT="${SPARK_UI_PORT:-4040}"
# Every listener on loopback: the driver's RPC and block manager bind to SPARK_DRIVER_HOST, the web UI to
# SPARK_LOCAL_IP (Spark's own default for both is a non-loopback address or 0.0.0.0). In cluster mode with
# executors on other machines, set SPARK_DRIVER_HOST to this host's address that they can reach.
DRIVER_HOST="${SPARK_DRIVER_HOST:-127.0.0.1}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
DELTA_VERSION="4.0.1"
DELTA_PACKAGE="io.delta:delta-spark_2.13:$DELTA_VERSION"
# Spark 4.0 no longer ships hive-llap-common, yet Hive's FunctionRegistry needs LlapSigner when it loads: without
# it, closing a session on a thread that holds no Hive client (or a Hive UDF) fails with NoClassDefFoundError
# LlapSigner$Signable, which dbt reports as a failed run. Only that jar: its own dependencies (Hadoop, Hive, Tez)
# are on Spark's class path already or never loaded.
LLAP_PACKAGE="org.apache.hive:hive-llap-common:2.3.10"
LLAP_EXCLUDES="org.apache.hive:hive-common,org.apache.hive:hive-serde,org.apache.commons:commons-lang3"
LLAP_EXCLUDES+=",org.apache.hadoop:hadoop-common,org.apache.hadoop:hadoop-mapreduce-client-core"
LLAP_EXCLUDES+=",org.apache.tez:tez-api,org.apache.tez:tez-common,org.apache.tez:tez-runtime-internals"
IVY_DIR="${IVY_DIR:-$DATA_DIR/ivy}"
PIDFILE="$RUN_DIR/spark-thrift.pid"
LOGFILE="$LOG_DIR/spark-thrift.log"
CONF_FILE="${SPARK_CONF_FILE:-$REPO_ROOT/services/spark-defaults.conf}"
JARS=(
  "$IVY_DIR/jars/io.delta_delta-spark_2.13-$DELTA_VERSION.jar"
  "$IVY_DIR/jars/io.delta_delta-storage-$DELTA_VERSION.jar"
  "$IVY_DIR/jars/org.antlr_antlr4-runtime-4.13.1.jar"
  "$IVY_DIR/jars/org.apache.hive_hive-llap-common-2.3.10.jar"
)

# Resolve Delta from Maven Central through spark.jars.packages into the project's Ivy cache, once.
resolve() {
  local missing=0 j
  for j in "${JARS[@]}"; do [ -f "$j" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  log "resolving $DELTA_PACKAGE and $LLAP_PACKAGE into $IVY_DIR (once)"
  local probe; probe="$(mktemp --suffix=.py)"; echo 'pass' >"$probe"
  spark-submit --master 'local[1]' --conf "spark.jars.ivy=$IVY_DIR" \
    --conf "spark.jars.packages=$DELTA_PACKAGE,$LLAP_PACKAGE" --conf "spark.jars.excludes=$LLAP_EXCLUDES" \
    "$probe" >"$LOG_DIR/ivy-resolve.log" 2>&1 || { rm -f "$probe"; die "could not resolve $DELTA_PACKAGE and $LLAP_PACKAGE; see $LOG_DIR/ivy-resolve.log"; }
  rm -f "$probe"
  for j in "${JARS[@]}"; do [ -f "$j" ] || die "expected $j after resolving $DELTA_PACKAGE and $LLAP_PACKAGE"; done
}

answers() {
  "$VENV/bin/python" - "$HOST" "$PORT" <<'PY' 2>/dev/null
import sys
from pyhive import hive
conn = hive.connect(host=sys.argv[1], port=int(sys.argv[2]), username="imdb")
cur = conn.cursor(); cur.execute("select 1"); cur.fetchall(); conn.close()
PY
}

start() {
  if pid_alive "$PIDFILE"; then
    answers && { log "spark-thrift: already running (pid $(cat "$PIDFILE")) on $HOST:$PORT"; return 0; }
  fi
  port_open "$HOST" "$PORT" && die "port $HOST:$PORT is taken by another process (not ours); stop it or set THRIFT_PORT"
  resolve
  mkdir -p "$DATA_DIR/warehouse" "$DATA_DIR/spark-tmp"
  local cp; cp="$(IFS=:; echo "${JARS[*]}")"
  local t0=$SECONDS
  log "spark-thrift: starting on $HOST:$PORT (master $MASTER), log $LOGFILE"
  # Delta through --packages alone fails in the Thrift server (NoClassDefFoundError DeltaSourceUtils$):
  # the resolved jars go on the driver class path instead (see PITFALLS).
  local cmd=(spark-submit
    --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    --name imdb-spark-thrift
    --master "$MASTER"
    --properties-file "$CONF_FILE"
    --driver-class-path "$cp"
    --jars "$(IFS=,; echo "${JARS[*]}")"
    --conf "spark.sql.warehouse.dir=$DATA_DIR/warehouse"
    --conf "spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName=$DATA_DIR/metastore_db;create=true"
    --conf "spark.driver.extraJavaOptions=-Dderby.system.home=$DATA_DIR -Djava.io.tmpdir=$DATA_DIR/spark-tmp"
    --conf "spark.local.dir=$DATA_DIR/spark-tmp"
    --conf "spark.jars.ivy=$IVY_DIR"
    --conf "spark.driver.host=$DRIVER_HOST" --conf "spark.driver.bindAddress=$DRIVER_HOST"
    --conf "spark.ui.port=$UI_PORT")
  # On a cluster the executors do the work: give them memory (the driver's 10 GB is for local mode).
  case "$MASTER" in local*) ;; *) cmd+=(--conf "spark.executor.memory=${SPARK_EXECUTOR_MEMORY:-6g}") ;; esac
  # shellcheck disable=SC2206
  cmd+=(${SPARK_SUBMIT_OPTS_EXTRA:-})
  cmd+=(spark-internal --hiveconf "hive.server2.thrift.bind.host=$HOST" --hiveconf "hive.server2.thrift.port=$PORT")
  # THRIFT_HIVECONF: more HiveServer2 settings, "key=value key=value" (e.g. LDAP authentication, see README)
  local kv
  for kv in ${THRIFT_HIVECONF:-}; do cmd+=(--hiveconf "$kv"); done
  if [ -n "${THRIFT_FOREGROUND:-}" ]; then exec "${cmd[@]}"; fi
  nohup "${cmd[@]}" >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 180); do
    pid_alive "$PIDFILE" || die "spark-thrift exited while starting; last lines of $LOGFILE:
$(tail -n 20 "$LOGFILE")"
    if port_open "$HOST" "$PORT" && answers; then
      log "spark-thrift: answering on $HOST:$PORT after $((SECONDS - t0)) s (pid $(cat "$PIDFILE")); Spark UI $(ui_url)"
      return 0
    fi
    sleep 1
  done
  die "spark-thrift did not answer on $HOST:$PORT within 180 s; see $LOGFILE"
}

# ui_url: where the Spark UI listens (Spark takes the next port when SPARK_UI_PORT is taken and logs it).
ui_url() {
  local port
  port="$(grep -ao "started service 'SparkUI' on port [0-9]*" "$LOGFILE" 2>/dev/null | tail -n 1 | grep -o '[0-9]*$')"
  echo "http://$SPARK_LOCAL_IP:${port:-$UI_PORT}"
}

status() {
  if pid_alive "$PIDFILE"; then
    if answers; then echo "spark-thrift  running  pid $(cat "$PIDFILE")  $HOST:$PORT  $LOGFILE  (Spark UI $(ui_url))"
    else echo "spark-thrift  starting/unresponsive  pid $(cat "$PIDFILE")  $HOST:$PORT  $LOGFILE"; fi
  else echo "spark-thrift  stopped   -  $HOST:$PORT  $LOGFILE"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid spark-thrift "$PIDFILE" ;;
  status) status ;;
  resolve) resolve ;;
  run) THRIFT_FOREGROUND=1 start ;;  # foreground, for containers
  check) answers ;;                  # exit 0 when it answers a query (the container healthcheck)
  *) echo "usage: $0 start|stop|status|resolve" >&2; exit 2 ;;
esac
