#!/usr/bin/env bash
# `make lock-check`: requirements.lock is compiled for Python 3.11; show that the same pins also resolve for
# 3.12 and 3.13 (the versions setup accepts), by resolving requirements.in with the lock as constraints for
# each and checking that every package resolved is pinned in the lock at that version.
# usage: services/lock-check.sh [PYTHON_VERSION...]   (default: 3.11 3.12 3.13)
. "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"

uv_bin="$(command -v uv || echo "$VENV/.uv/bin/uv")"
[ -x "$uv_bin" ] || die "uv not found (make setup installs it into .venv/.uv)"
versions=("$@")
[ "${#versions[@]}" -gt 0 ] || versions=(3.11 3.12 3.13)

pins() { grep -E '^[A-Za-z0-9._-]+==' "$1" | sed 's/ .*//' | tr 'A-Z_.' 'a-z--' | sort; }
pins requirements.lock >"$RUN_DIR/lock-pins.txt"
rc=0
for v in "${versions[@]}"; do
  out="$RUN_DIR/lock-$v.txt"
  if ! "$uv_bin" pip compile -q requirements.in -c requirements.lock --python-version "$v" \
    --python-platform x86_64-manylinux_2_28 --no-header --no-annotate -o "$out" 2>"$out.err"; then
    log "Python $v: requirements.in does not resolve within requirements.lock:"; cat "$out.err" >&2; rc=1; continue
  fi
  extra="$(pins "$out" | comm -23 - "$RUN_DIR/lock-pins.txt")"
  if [ -n "$extra" ]; then log "Python $v: resolved outside the lock: $extra"; rc=1; continue; fi
  log "Python $v: resolves to $(pins "$out" | wc -l) packages, every one pinned in requirements.lock"
done
exit $rc
