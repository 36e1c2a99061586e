# Shared by the service scripts: resolves the repository, DATA_DIR (absolute), the venv and .env.
# Sourced, not executed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# .env fills in what the environment does not set (as core/config.py does): `DATA_DIR=/x make up` wins.
if [ -f "$REPO_ROOT/.env" ]; then
  while IFS= read -r _line || [ -n "$_line" ]; do
    case "$_line" in '' | '#'*) continue ;; esac
    _key="${_line%%=*}"; _value="${_line#*=}"; _value="${_value%\"}"; _value="${_value#\"}"
    [ -n "${!_key+x}" ] || export "$_key=$_value"
  done <"$REPO_ROOT/.env"
  unset _line _key _value
fi
DATA_DIR="${DATA_DIR:-$REPO_ROOT/.data}"
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$REPO_ROOT/$DATA_DIR" ;; esac
DATA_DIR="$(realpath -m "$DATA_DIR")"
export DATA_DIR
VENV="$REPO_ROOT/.venv"
export PATH="$VENV/bin:$PATH"
LOG_DIR="$DATA_DIR/logs"
RUN_DIR="$DATA_DIR/run"
mkdir -p "$LOG_DIR" "$RUN_DIR"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# pid_alive PIDFILE: true when the pid in PIDFILE is a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME PIDFILE: TERM the process we started (and its group), wait, then KILL; only that pid.
stop_pid() {
  local name="$1" pidfile="$2" pid i
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name: not running"; return 0; fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "$name: still running after 30 s, killing $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
  log "$name: stopped (pid $pid)"
}

# roles_sql SECTION…: those sections of serving/roles.sql (the one file with the roles and GRANTs), for psql
# with -v variables (see the file's header).
roles_sql() {
  local section
  for section in "$@"; do
    sed -n "/^-- \[$section\]/,/^-- \[/p" "$REPO_ROOT/serving/roles.sql" | sed '$ { /^-- \[/d }'
  done
}

# port_open HOST PORT: true when something listens there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
