#!/usr/bin/env bash
# `make clean`: stop every service the project started, then, after asking, remove DATA_DIR (warehouse,
# metastore, PostgreSQL cluster, Airflow home, logs) — keeping the downloads (DATA_DIR/cache, the IMDb files,
# and DATA_DIR/ivy, Delta's jars) unless CLEAN_CACHE=1. YES=1 removes without asking.
# usage: services/clean.sh
. "$(dirname "$0")/common.sh"

make -C "$REPO_ROOT" --no-print-directory down

case "$DATA_DIR" in
  / | "$HOME" | "$REPO_ROOT" | "$(dirname "$REPO_ROOT")") die "refusing to remove DATA_DIR=$DATA_DIR" ;;
esac
[ -d "$DATA_DIR" ] || { log "nothing to remove: $DATA_DIR does not exist"; exit 0; }

keep=(cache ivy)
[ "${CLEAN_CACHE:-0}" = 1 ] && keep=()
targets=()
for entry in "$DATA_DIR"/* "$DATA_DIR"/.[!.]*; do
  [ -e "$entry" ] || continue
  name="$(basename "$entry")"
  [[ " ${keep[*]} " == *" $name "* ]] || targets+=("$entry")
done
# as root, the PostgreSQL cluster may live outside DATA_DIR (see services/postgres.sh)
if [ -f "$DATA_DIR/postgres/WHERE" ]; then targets+=("$(cat "$DATA_DIR/postgres/WHERE")"); fi
[ "${#targets[@]}" -gt 0 ] || { log "nothing to remove in $DATA_DIR (kept: ${keep[*]:-nothing})"; exit 0; }

du -sh "${targets[@]}" 2>/dev/null | sed 's/^/  /' >&2
if [ "${YES:-0}" != 1 ]; then
  printf '[clean.sh] remove these (keeping %s)? [y/N] ' "${keep[*]:-nothing}" >&2
  read -r answer || answer=""
  case "$answer" in y | Y | yes | YES) ;; *) log "nothing removed"; exit 0 ;; esac
fi
rm -rf "${targets[@]}"
[ "${#keep[@]}" -gt 0 ] || rmdir "$DATA_DIR" 2>/dev/null || true
log "removed ${#targets[@]} entries from $DATA_DIR (kept: ${keep[*]:-nothing})"
