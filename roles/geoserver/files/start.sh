#!/bin/sh
# Start wrapper of the geostack.kargo geoserver role, mounted as a compose config and
# run by /bin/sh as the container's entry point; its arguments are the image's own
# start command (entry point + command of the image).
#  1. The passwords come as secret files: they are read into the variables the
#     official image's start script uses (GEOSERVER_ADMIN_PASSWORD, POSTGRES_PASSWORD).
#  2. In the background, once GeoServer answers, the administrator password is checked
#     through the REST API and, when GeoServer still has the previous one (kept in the
#     data directory) or the default one (images that do not apply
#     GEOSERVER_ADMIN_PASSWORD themselves start with admin/geoserver), set to the
#     configured one. The healthcheck logs in with the configured password, so the
#     container is healthy only once it is in force.
#  3. The image's start command runs as PID 1.
set -eu

log() { printf '[kargo-geoserver] %s\n' "$*" >&2; }

if [ -n "${GEOSERVER_ADMIN_PASSWORD_FILE:-}" ]; then
  GEOSERVER_ADMIN_PASSWORD=$(cat "$GEOSERVER_ADMIN_PASSWORD_FILE")
  export GEOSERVER_ADMIN_PASSWORD
fi
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
  export POSTGRES_PASSWORD
fi

apply_admin_password() {
  base=http://127.0.0.1:8080/geoserver
  user=${GEOSERVER_ADMIN_USER:-admin}
  kept="${GEOSERVER_DATA_DIR:-/var/lib/geoserver_data}/.kargo_admin_password"
  waited=0
  until curl -fs -o /dev/null --max-time 10 "$base/web/"; do
    if [ "$waited" -ge 1800 ]; then
      log "GeoServer did not answer within 30 minutes; administrator password not checked"
      return 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  umask 077
  curlrc=$(mktemp)
  trap 'rm -f "$curlrc"' EXIT
  printf 'user = "%s:%s"\n' "$user" "$GEOSERVER_ADMIN_PASSWORD" > "$curlrc"
  if curl -fs -o /dev/null --max-time 30 -K "$curlrc" "$base/rest/about/version.json"; then
    printf '%s' "$GEOSERVER_ADMIN_PASSWORD" > "$kept" 2>/dev/null || true
    log "administrator password in force"
    return 0
  fi
  previous=$(cat "$kept" 2>/dev/null || true)
  for old in "$previous" geoserver; do
    [ -n "$old" ] || continue
    printf 'user = "%s:%s"\n' "$user" "$old" > "$curlrc"
    if printf '{"newPassword": "%s"}' "$GEOSERVER_ADMIN_PASSWORD" \
        | curl -fs -o /dev/null --max-time 30 -K "$curlrc" -X PUT -H 'Content-Type: application/json' \
               --data-binary @- "$base/rest/security/self/password"; then
      printf '%s' "$GEOSERVER_ADMIN_PASSWORD" > "$kept" 2>/dev/null || true
      log "administrator password set (it was the $( [ "$old" = geoserver ] && echo default || echo previous ) one)"
      return 0
    fi
  done
  log "could not set the administrator password: GeoServer accepts neither the configured, the previous nor the default password of $user"
  return 1
}

if [ -n "${GEOSERVER_ADMIN_PASSWORD:-}" ]; then
  (apply_admin_password) &
fi

if [ $# -eq 0 ]; then
  log "no start command given"
  exit 64
fi
exec "$@"
