#!/usr/bin/env bash
# Entrypoint of the kargo QGIS Server image.
# Starts QGIS_SERVER_PROCESSES (default 2) qgis_mapserv.fcgi processes under
# spawn-fcgi + multiwatch (restarts a crashed process) on a unix socket, and nginx
# in front of them speaking plain HTTP on port 8080. Both run as the current
# (unprivileged) user. If either stops, the other is stopped and the container exits,
# so the orchestrator restarts it. "docker stop" (SIGTERM) stops both.
# Any other command given to the container is run instead (e.g. bash).
set -Eeuo pipefail

log() { printf '[qgis-entrypoint] %s\n' "$*" >&2; }

if [ $# -gt 0 ] && [ "$1" != qgis-server ]; then
  exec "$@"
fi

N=${QGIS_SERVER_PROCESSES:-2}
case "$N" in ''|*[!0-9]*|0) log "QGIS_SERVER_PROCESSES must be a positive integer, not '$N'"; exit 1 ;; esac
# QGIS_SERVER_DRAIN_SECONDS (swarm mode): on SIGTERM, go on serving this long, then
# stop. Swarm takes a task out of its DNS before it stops it, but the proxy's node may
# learn it later and the proxy keeps an answer proxy_resolver_valid: a replica that
# closed its port at once would, once gone, still be asked (the request waiting for the
# proxy's connect timeout).
drain=${QGIS_SERVER_DRAIN_SECONDS:-0}
case "$drain" in ''|*[!0-9]*) log "QGIS_SERVER_DRAIN_SECONDS must be a whole number, not '$drain'"; exit 1 ;; esac

if [ -n "${QGIS_PROJECT_FILE:-}" ] && [ ! -r "${QGIS_PROJECT_FILE}" ] \
   && [[ "$QGIS_PROJECT_FILE" != postgres* ]]; then
  log "WARNING: QGIS_PROJECT_FILE=$QGIS_PROJECT_FILE is not a readable file"
fi

mkdir -p /tmp/nginx /tmp/qgis-fcgi "${QGIS_SERVER_CACHE_DIRECTORY:-/tmp/qgis-cache}" "$HOME"
rm -f /tmp/qgis-fcgi/qgis.sock

# libfcgi replaces a process's environment with the FastCGI request's parameters while
# a request runs, so libpq (PGSERVICEFILE, PGSYSCONFDIR ...), GDAL, PROJ and QGIS would
# not see the container's environment then: hand it over as fastcgi_param lines.
# The project and its service URL go to a file of their own, as request parameters only:
# the default location uses them, each location of qgis_server_projects names its own.
# QGIS Server reads its settings once, when a process starts, and a project file set then
# would be served at every location; unset, it takes QGIS_PROJECT_FILE from each request.
# The service URL goes as the X-Qgis-Service-Url header (per request, too).
fcgi_env=/tmp/nginx/fastcgi_env.conf
fcgi_project=/tmp/nginx/fastcgi_project.conf
: >"$fcgi_env"
: >"$fcgi_project"
while IFS= read -r -d '' kv; do
  k=${kv%%=*}; v=${kv#*=}
  case "$k" in
    QGIS_*|PG*|GDAL_*|CPL_*|OGR_*|PROJ_*|QT_*|HOME|LANG|LC_*|TZ|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) ;;
    *) continue ;;
  esac
  if [ "${v//[\"\$\\]/}" != "$v" ] || [ "${v//$'\n'/}" != "$v" ]; then
    log "WARNING: not passing $k to QGIS (its value has a quote, backslash, dollar or newline)"
    continue
  fi
  case "$k" in
    QGIS_PROJECT_FILE) printf 'fastcgi_param %s "%s";\n' "$k" "$v" >>"$fcgi_project" ;;
    QGIS_SERVER_SERVICE_URL) printf 'fastcgi_param HTTP_X_QGIS_SERVICE_URL "%s";\n' "$v" >>"$fcgi_project" ;;
    *) printf 'fastcgi_param %s "%s";\n' "$k" "$v" >>"$fcgi_env" ;;
  esac
done < <(env -0)

log "starting $N qgis_mapserv.fcgi processes (project: ${QGIS_PROJECT_FILE:-<from MAP parameter>})"
unset QGIS_PROJECT_FILE QGIS_SERVER_SERVICE_URL
spawn-fcgi -n -s /tmp/qgis-fcgi/qgis.sock -M 0600 -- \
  /usr/bin/multiwatch -f "$N" -- /usr/lib/cgi-bin/qgis_mapserv.fcgi &
fcgi_pid=$!

for _ in $(seq 1 100); do
  [ -S /tmp/qgis-fcgi/qgis.sock ] && break
  kill -0 "$fcgi_pid" 2>/dev/null || { log "spawn-fcgi exited"; wait "$fcgi_pid"; exit 1; }
  sleep 0.1
done

log "starting nginx on :8080"
nginx -c /etc/qgis-server/nginx.conf &
nginx_pid=$!

# nginx stops gracefully first (QUIT: it finishes the requests it has), then the QGIS
# processes those requests wait on
stopping=0
stop() {
  [ "$stopping" = 1 ] && return 0
  stopping=1
  kill -QUIT "$nginx_pid" 2>/dev/null || true
  [ "$signalled" = 1 ] && wait "$nginx_pid" 2>/dev/null
  kill -TERM "$fcgi_pid" 2>/dev/null || true
}
on_signal() {
  signalled=1
  if [ "$drain" -gt 0 ]; then
    log "signal received: serving $drain s more before stopping (QGIS_SERVER_DRAIN_SECONDS)"
    sleep "$drain"
  fi
  log "stopping"
  stop
}
signalled=0
trap on_signal TERM INT

set +e
wait -n "$fcgi_pid" "$nginx_pid"
rc=$?
[ "$signalled" = 1 ] || log "a child exited ($rc), stopping the other"
stop
wait
if [ "$signalled" = 1 ]; then
  log "stopped"
  exit 0
fi
exit "$rc"
