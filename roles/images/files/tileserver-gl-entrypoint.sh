#!/usr/bin/env bash
# Entrypoint of the kargo TileServer GL image: runs TileServer GL (its arguments are
# this script's) as a child, so that SIGTERM can wait: TileServer GL exits at once on
# it, dropping its connections.
# TILESERVER_DRAIN_SECONDS (swarm mode): on SIGTERM, go on serving this long, then stop.
# Swarm takes a task out of its DNS before it stops it, but the proxy's node may learn it
# later and the proxy keeps an answer proxy_resolver_valid: a replica that closed its
# port at once would, once gone, still be asked (the request waiting for the proxy's
# connect timeout).
set -Eeuo pipefail

log() { printf '[tileserver-entrypoint] %s\n' "$*" >&2; }

drain=${TILESERVER_DRAIN_SECONDS:-0}
case "$drain" in ''|*[!0-9]*) log "TILESERVER_DRAIN_SECONDS must be a whole number, not '$drain'"; exit 1 ;; esac

node /opt/tileserver/node_modules/tileserver-gl-light/src/main.js "$@" &
server_pid=$!

signals=0
on_signal() {
  signals=$((signals + 1))
  [ "$signals" -eq 1 ] || return 0
  if [ "$drain" -gt 0 ]; then
    log "signal received: serving $drain s more before stopping (TILESERVER_DRAIN_SECONDS)"
    sleep "$drain"
  fi
  kill -TERM "$server_pid" 2>/dev/null || true
}
trap on_signal TERM INT

# A trapped signal makes wait return at once (128 + the signal) and then runs the trap,
# which stops the server: wait again, for the server's own exit status. (Asking whether
# the server still runs instead was a race: when it had exited, and been reaped, before
# the question, the container exited 143, not the server's 0.) bash keeps the status of
# a child reaped meanwhile for the next wait.
set +e
handled=0
while :; do
  wait "$server_pid"
  rc=$?
  [ "$signals" -gt "$handled" ] || break
  handled=$signals
done
exit "$rc"
