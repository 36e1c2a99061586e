#!/usr/bin/env bash
# A Spark standalone cluster on loopback: one master (127.0.0.1:7077) and one worker, from the pyspark
# package (its wheel has no sbin/start-*.sh, so the daemons are started with spark-class, as those do).
# Then start the Thrift server against it: SPARK_MASTER=spark://127.0.0.1:7077 services/thrift.sh start
# usage: services/spark-cluster.sh start|stop|status
. "$(dirname "$0")/common.sh"

HOST="${SPARK_MASTER_HOST:-127.0.0.1}"
PORT="${SPARK_MASTER_PORT:-7077}"
MASTER_UI="${SPARK_MASTER_WEBUI_PORT:-8090}"
WORKER_UI="${SPARK_WORKER_WEBUI_PORT:-8091}"
WORKER_CORES="${SPARK_WORKER_CORES:-2}"
WORKER_MEMORY="${SPARK_WORKER_MEMORY:-8g}"
# the daemons' web UIs and the executors the worker launches bind here too (Spark's default is every interface)
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-$HOST}"
MASTER_PID="$RUN_DIR/spark-master.pid"
WORKER_PID="$RUN_DIR/spark-worker.pid"

# master_json: the master's status page as JSON (workers, applications), or nothing when it does not answer.
master_json() { curl -sf --max-time 2 "http://$HOST:$MASTER_UI/json/" || true; }

start() {
  mkdir -p "$DATA_DIR/spark-worker" "$DATA_DIR/spark-tmp"
  if ! pid_alive "$MASTER_PID"; then
    port_open "$HOST" "$PORT" && die "port $HOST:$PORT is taken by another process (not ours); set SPARK_MASTER_PORT"
    log "spark-master: starting on spark://$HOST:$PORT (UI http://$HOST:$MASTER_UI), log $LOG_DIR/spark-master.log"
    nohup spark-class org.apache.spark.deploy.master.Master \
      --host "$HOST" --port "$PORT" --webui-port "$MASTER_UI" >"$LOG_DIR/spark-master.log" 2>&1 </dev/null &
    echo $! >"$MASTER_PID"
  fi
  local i
  for i in $(seq 1 60); do port_open "$HOST" "$PORT" && break; pid_alive "$MASTER_PID" || die "spark-master exited; see $LOG_DIR/spark-master.log"; sleep 1; done
  if ! pid_alive "$WORKER_PID"; then
    log "spark-worker: $WORKER_CORES cores, $WORKER_MEMORY, log $LOG_DIR/spark-worker.log"
    # the worker's executors spill to DATA_DIR too, like the local-mode driver
    SPARK_LOCAL_DIRS="$DATA_DIR/spark-tmp" nohup spark-class org.apache.spark.deploy.worker.Worker \
      --host "$HOST" --webui-port "$WORKER_UI" --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" \
      --work-dir "$DATA_DIR/spark-worker" "spark://$HOST:$PORT" >"$LOG_DIR/spark-worker.log" 2>&1 </dev/null &
    echo $! >"$WORKER_PID"
  fi
  for i in $(seq 1 60); do
    if master_json | grep -q '"state" *: *"ALIVE"'; then
      log "spark cluster: master spark://$HOST:$PORT with a live worker (UI http://$HOST:$MASTER_UI)"
      return 0
    fi
    pid_alive "$WORKER_PID" || die "spark-worker exited; see $LOG_DIR/spark-worker.log"
    sleep 1
  done
  die "no worker registered with spark://$HOST:$PORT within 60 s; see $LOG_DIR/spark-worker.log"
}

status() {
  local rc=0
  if pid_alive "$MASTER_PID"; then echo "spark-master  running  pid $(cat "$MASTER_PID")  spark://$HOST:$PORT  $LOG_DIR/spark-master.log"
  else echo "spark-master  stopped   -  spark://$HOST:$PORT"; rc=3; fi
  if pid_alive "$WORKER_PID"; then echo "spark-worker  running  pid $(cat "$WORKER_PID")  $WORKER_CORES cores $WORKER_MEMORY  $LOG_DIR/spark-worker.log"
  else echo "spark-worker  stopped"; rc=3; fi
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid spark-worker "$WORKER_PID"; stop_pid spark-master "$MASTER_PID" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
