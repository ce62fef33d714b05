#!/usr/bin/env bash
# Entrypoint of the kargo PostGIS image (PostgreSQL from Debian, no official image).
#
# On the first start (no PG_VERSION in $PGDATA) it:
#   - runs initdb into $PGDATA (default /var/lib/postgresql/data, a volume) with the
#     superuser $POSTGRES_USER (default postgres) and its password from
#     $POSTGRES_PASSWORD or from the file named by $POSTGRES_PASSWORD_FILE (docker secrets);
#   - lets the local socket use "trust" (only processes inside the container reach it)
#     and every TCP host use scram-sha-256; listens on all interfaces;
#   - creates $POSTGRES_DB (default: $POSTGRES_USER) and runs, once, in name order,
#     /docker-entrypoint-initdb.d/*.sh (executable: run, else sourced), *.sql, *.sql.gz
#     against it with a temporary server reachable only on the local socket;
# then it execs postgres in the foreground (PID 1, signals go to it).
# Every *_FILE variant works for POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
# POSTGRES_INITDB_ARGS adds arguments to initdb. POSTGRES_HOST_AUTH_METHOD
# (default scram-sha-256) may be set to "trust" for throw-away tests only.
set -Eeuo pipefail

log() { printf '[postgis-entrypoint] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# VAR or VAR_FILE (not both); the value of VAR_FILE is a path to read.
file_env() {
  local var=$1 def=${2:-} fvar="${1}_FILE"
  local val=$def
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    die "both $var and $fvar are set (they are exclusive)"
  fi
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!fvar:-}" ]; then
    [ -r "${!fvar}" ] || die "$fvar=${!fvar} is not a readable file"
    val=$(<"${!fvar}")
  fi
  export "$var"="$val"
  unset "$fvar"
}

# "docker run IMAGE -c foo=bar" means "postgres -c foo=bar".
if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

# Started as root anyway (--user 0): fix ownership, then drop to postgres.
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_USER postgres
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB "$POSTGRES_USER"
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    die "no password: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (a file, e.g. /run/secrets/db_password)"
  fi

  mkdir -p "$PGDATA" 2>/dev/null || true
  [ -w "$PGDATA" ] || die "$PGDATA is not writable by $(id -un) (uid $(id -u)); chown it to $(id -u):$(id -g)"
  if [ -n "$(ls -A "$PGDATA" 2>/dev/null | grep -v '^lost+found$' || true)" ]; then
    die "$PGDATA is not empty but holds no cluster (no PG_VERSION); refusing to initialise over it"
  fi
  chmod 0700 "$PGDATA" 2>/dev/null || true

  log "initialising a new cluster in $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$auth" \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  trap - EXIT

  {
    printf '\n# kargo: every remote host with a password\n'
    printf 'host all all all %s\n' "$auth"
  } >>"$PGDATA/pg_hba.conf"
  {
    printf '\n# kargo\n'
    printf "listen_addresses = '*'\n"
    printf "password_encryption = 'scram-sha-256'\n"
  } >>"$PGDATA/postgresql.conf"

  # Temporary server: local socket only, so nothing outside sees a half-made database.
  pg_ctl --pgdata="$PGDATA" -w -o "-c listen_addresses='' -p 5432" start >/dev/null

  psql_init=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    exists=$("${psql_init[@]}" --dbname postgres -tA -v db="$POSTGRES_DB" \
      <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      "${psql_init[@]}" --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
  fi
  psql_init+=(--dbname "$POSTGRES_DB")

  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"
        else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"
        fi ;;
      *.sql)    log "running $f"; "${psql_init[@]}" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | "${psql_init[@]}" ;;
      *)        log "ignoring $f" ;;
    esac
  done
  shopt -u nullglob

  pg_ctl --pgdata="$PGDATA" -m fast -w stop >/dev/null
  unset POSTGRES_PASSWORD
  log "initialisation done"
fi

exec "$@"
