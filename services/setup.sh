#!/usr/bin/env bash
# Installs what the project needs, once: OS packages (Java 17, PostgreSQL server, Chromium for the docs and
# UI screenshots), the pinned Python environment in .venv, a .env with generated passwords, Delta's jars.
# A second run checks and does nothing.
. "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
UV_VERSION=0.13.9

need_apt=()
java -version 2>&1 | grep -q 'version "17' || need_apt+=(openjdk-17-jre-headless)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
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

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null || python_bin=python3
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || die "Python 3.11 is required (found: $("$python_bin" --version 2>&1))"

uv_bin="$(command -v uv || true)"
if [ -z "$uv_bin" ] || ! "$uv_bin" --version | grep -q "$UV_VERSION"; then
  [ -x "$VENV/.uv/bin/uv" ] || { log "installing uv $UV_VERSION"; "$python_bin" -m venv "$VENV/.uv" && "$VENV/.uv/bin/pip" install -q "uv==$UV_VERSION"; }
  uv_bin="$VENV/.uv/bin/uv"
fi

lock_sha="$(sha256sum requirements.lock | cut -c1-16)"
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
  chmod 600 .env
fi

"$REPO_ROOT/services/thrift.sh" resolve
log "setup complete"
