#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, under target/pg, listening on
# 127.0.0.1 on a free port. Usage: .config/pg.sh start|stop|url
#   start : initdb if needed, start if not running, create the `meeboter` database; prints the URL
#   stop  : stop the cluster (fast shutdown)
#   url   : print the URL of the running cluster
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PGROOT="$ROOT/target/pg"
DATA="$PGROOT/data"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "[pg] no PostgreSQL server binaries; run .config/setup.sh" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

url() { echo "postgres://postgres@127.0.0.1:$(cat "$PGROOT/port")/meeboter"; }

case "${1:-}" in
  start)
    mkdir -p "$PGROOT"
    if [ "$(id -u)" = 0 ]; then chown postgres "$PGROOT"; fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
    fi
    if ! running; then
      port=$(free_port)
      echo "$port" > "$PGROOT/port"
      as_owner "$BIN/pg_ctl" -D "$DATA" -l "$PGROOT/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $port -k $PGROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    fi
    port=$(cat "$PGROOT/port")
    if ! psql -h 127.0.0.1 -p "$port" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='meeboter'" postgres | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE meeboter" postgres
    fi
    url
    ;;
  stop)
    if running; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; fi
    ;;
  url)
    running || { echo "[pg] not running" >&2; exit 1; }
    url
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
