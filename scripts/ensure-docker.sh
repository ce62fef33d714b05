#!/usr/bin/env bash
# Make sure a Docker Engine with Compose v2 answers on this host.
# Idempotent: does nothing when `docker info` and `docker compose version` already work.
# Without systemd (as on the project's machines) dockerd is started in the background.
# Recipe measured in ../shared/ENVIRONMENT.md: docker.io from the host's Debian release,
# then Compose v2 (and Engine 26) from Debian trixie pinned low; containerd/runc/tini stay.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*"; }
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
compose_works() { docker compose version >/dev/null 2>&1; }

if engine_answers && compose_works; then
  log "engine $(docker version --format '{{.Server.Version}}') and $(docker compose version --short) already answer"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

install_packages() {
  log "installing docker.io (Debian) and Compose v2 (Debian trixie, pinned at priority 100)"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /etc/apt/sources.list.d/kargo-trixie.sources ]; then
    $SUDO tee /etc/apt/sources.list.d/kargo-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/kargo-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq docker.io iptables >/dev/null
  $SUDO apt-get install -y -qq -t trixie docker-compose >/dev/null
}

if ! command -v dockerd >/dev/null 2>&1 || ! compose_works; then
  install_packages
fi

if ! engine_answers; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    log "starting docker with systemd"
    $SUDO systemctl start docker
  else
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    # a stale pid file from an engine that died keeps a new one from starting
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      $SUDO rm -f /var/run/docker.pid
    fi
    $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 1
  done
fi

if ! engine_answers; then
  log "the Docker Engine did not answer within 60 s; last lines of $DOCKERD_LOG:"
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  exit 1
fi
compose_works || { log "docker compose (v2) is not available"; exit 1; }
log "engine $(docker version --format '{{.Server.Version}}'), compose $(docker compose version --short)"
