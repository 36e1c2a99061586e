#!/usr/bin/env bash
# Installs what the project needs, once: OS packages (Java 17 or 21, PostgreSQL server; with --tests also
# Chromium, which only the tests' screenshots use), the pinned Python environment in .venv (Python 3.11, 3.12
# or 3.13), a .env with generated passwords, Delta's jars. A second run checks and does nothing.
# usage: services/setup.sh [--tests]
. "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
UV_VERSION=0.13.9

need_apt=()
# Spark 4.0 runs on Java 17 and 21: keep whichever is there, else install 17 (21 where 17 is not packaged)
if ! java -version 2>&1 | grep -Eq 'version "(17|21)[".]'; then
  if apt-cache show openjdk-17-jre-headless >/dev/null 2>&1 || ! apt-cache show openjdk-21-jre-headless >/dev/null 2>&1; then
    need_apt+=(openjdk-17-jre-headless)
  else need_apt+=(openjdk-21-jre-headless); fi
fi
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
if [ "${1:-}" = --tests ]; then [ -x /usr/bin/chromium ] || need_apt+=(chromium); fi
command -v gzip >/dev/null || need_apt+=(gzip)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing OS packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >"$LOG_DIR/apt.log" 2>&1 \
      || die "apt-get install ${need_apt[*]} failed; see $LOG_DIR/apt.log"
    # Debian starts a system cluster on 5432 when it installs postgresql; ours is separate (5433).
  else
    die "missing OS packages: ${need_apt[*]}. Install them: sudo apt-get install -y ${need_apt[*]}"
  fi
fi

# Python 3.11 to 3.13 (the lock resolves for each: make lock-check): $PYTHON, else the first one found.
supported() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  python_bin="$PYTHON"
  supported "$python_bin" || die "PYTHON=$PYTHON is $("$python_bin" --version 2>&1); Python 3.11, 3.12 or 3.13 is required"
else
  python_bin=""
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && supported "$candidate"; then python_bin="$candidate"; break; fi
  done
  [ -n "$python_bin" ] || die "Python 3.11, 3.12 or 3.13 is required (python3 is $(python3 --version 2>&1)); set PYTHON=/path/to/python3.x"
fi

uv_bin="$(command -v uv || true)"
if [ -z "$uv_bin" ] || ! "$uv_bin" --version | grep -q "$UV_VERSION"; then
  [ -x "$VENV/.uv/bin/uv" ] || { log "installing uv $UV_VERSION"; "$python_bin" -m venv "$VENV/.uv" && "$VENV/.uv/bin/pip" install -q "uv==$UV_VERSION"; }
  uv_bin="$VENV/.uv/bin/uv"
fi

# the lock and pyproject.toml (its package list): an existing .venv re-installs when either changes
lock_sha="$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$VENV/.installed-lock" 2>/dev/null)" != "$lock_sha" ]; then
  [ -x "$VENV/bin/python" ] || "$uv_bin" venv -q --allow-existing --python "$python_bin" "$VENV"  # .venv/.uv may already hold uv itself
  log "installing requirements.lock into .venv"
  "$uv_bin" pip install -q --python "$VENV/bin/python" -r requirements.lock
  "$uv_bin" pip install -q --python "$VENV/bin/python" --no-deps -e .
  echo "$lock_sha" >"$VENV/.installed-lock"
fi

# `source .venv/bin/activate` then finds the dbt project and profile from anywhere: `dbt build --select
# +actor_actress_kpis` works as dbt users type it.
if ! grep -q DBT_PROFILES_DIR "$VENV/bin/activate"; then
  cat >>"$VENV/bin/activate" <<ACT
export DBT_PROFILES_DIR="$REPO_ROOT" DBT_PROJECT_DIR="$REPO_ROOT/dbt_imdb"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1 AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
ACT
fi

if [ ! -f .env ]; then
  log "writing .env from .env.example with generated passwords"
  sed -e "s/change-me-writer/$(openssl rand -hex 12)/" -e "s/change-me-reader/$(openssl rand -hex 12)/" .env.example >.env
elif ! grep -q '^PG_WRITER_PASSWORD=' .env; then  # a hand-written .env (ports, DATA_DIR) gets its passwords too
  log "adding generated database passwords to .env"
  printf 'PG_WRITER_PASSWORD=%s\nPG_READER_PASSWORD=%s\n' "$(openssl rand -hex 12)" "$(openssl rand -hex 12)" >>.env
fi
chmod 600 .env  # it holds the database passwords

"$REPO_ROOT/services/thrift.sh" resolve
log "setup complete"
