#!/usr/bin/env bash
# Remove what this project made on this machine, so the next `make test` or `make demo`
# runs as on a fresh one (a cold run): the containers, swarm stacks, volumes, networks
# and images it made on the local engine (names starting with kargo, images of
# geostack-kargo/ and kargo-test*/), the swarm its tests made, the labs, the files under
# /tmp/kargo-* and /opt/kargo, the generated inventories and secrets, Molecule's state of
# its scenarios, the venv and the collection link.
#   --engine  also stop dockerd and purge what scripts/ensure-docker.sh (and ensure-browser.sh) installed
#             (docker.io, Compose v2, the pinned trixie source, /var/lib/docker) and
#             debootstrap, which the images role installs
# Nothing else on the engine or the machine is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[clean-machine] %s\n' "$*"; }
purge_engine=false
[ "${1:-}" = "--engine" ] && purge_engine=true

if timeout 10 docker info >/dev/null 2>&1; then
  ours() { grep -E "^${1}" || true; }
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    for stack in $(docker stack ls --format '{{.Name}}' 2>/dev/null | ours kargo); do
      log "stack $stack"; docker stack rm "$stack" >/dev/null
    done
    # the one-node swarm of the tests advertises 127.0.0.1; a swarm of the user's does not
    if [ "$(docker info --format '{{.Swarm.NodeAddr}}')" = 127.0.0.1 ]; then
      log "leaving the tests' one-node swarm"; docker swarm leave --force >/dev/null
    fi
  fi
  containers=$(docker ps -a --format '{{.Names}}' | ours kargo)
  [ -z "$containers" ] || { log "containers: $(echo $containers)"; docker rm -f -v $containers >/dev/null; }
  volumes=$(docker volume ls --format '{{.Name}}' | ours kargo)
  [ -z "$volumes" ] || { log "volumes: $(echo $volumes)"; docker volume rm -f $volumes >/dev/null; }
  networks=$(docker network ls --format '{{.Name}}' | ours kargo)
  [ -z "$networks" ] || { log "networks: $(echo $networks)"; docker network rm $networks >/dev/null; }
  # by ID: an image whose tag moved to a newer build is <none>, which is no reference; those
  # the images role built carry its build-hash label
  images=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '(^|/)(geostack-kargo|kargo-test[a-z-]*)/' || true)
  image_ids=$({ docker images --format '{{.Repository}} {{.ID}}' | grep -E '^([^ ]*/)?(geostack-kargo|kargo-test[a-z-]*)/' \
                | cut -d' ' -f2; docker images -q -f dangling=true -f label=org.geostack.kargo.build-hash; } | sort -u || true)
  if [ -n "$image_ids" ]; then
    log "images: $(echo $images) and $(docker images -q -f dangling=true -f label=org.geostack.kargo.build-hash | wc -l) untagged builds"
    # an image another one was built on goes once that one has gone: a few passes
    for pass in 1 2 3 4; do
      left=$(for id in $image_ids; do docker image inspect "$id" >/dev/null 2>&1 && echo "$id"; done || true)
      [ -z "$left" ] || [ "$pass" = 4 ] && break
      docker rmi -f $left >/dev/null 2>&1 || true
    done
    [ -z "$left" ] || log "images still there (used by others): $(echo $left)"
  fi
  log "build cache"; docker builder prune -af >/dev/null
fi

# Molecule's state of the scenarios (folders under ~/.ansible/tmp), while it is installed
if [ -x .venv/bin/molecule ]; then
  log "Molecule state of the scenarios"
  export PATH="$PWD/.venv/bin:$PATH"
  molecule reset -s lab >/dev/null 2>&1 || true
  for role in postgis proxy; do (cd "roles/$role" && molecule reset >/dev/null 2>&1) || true; done
fi

log "files: /tmp/kargo-* /opt/kargo, inventories' secrets, labs' inventories, venv"
rm -rf /tmp/kargo-* /opt/kargo /etc/docker/certs.d/10.7[0-9].0.*:* \
       inventories/*/.secrets inventories/lab/hosts.yml inventories/lab/.ssh \
       .venv .collections .pytest_cache .kargo

if $purge_engine; then
  if [ -f /var/run/docker.pid ]; then
    log "stopping dockerd"
    kill "$(cat /var/run/docker.pid)" 2>/dev/null || true
    for _ in $(seq 1 30); do [ -e /var/run/docker.pid ] || break; sleep 1; done
  fi
  pkill -x containerd 2>/dev/null || true
  log "purging the engine packages, the trixie source and /var/lib/docker"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq docker.io docker-cli docker-compose docker-buildx \
    containerd runc tini iptables debootstrap chromium >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -qq >/dev/null 2>&1 || true
  # /var/lib/docker may be a mount point (a disk of its own): emptied, kept
  find /var/lib/docker -mindepth 1 -delete 2>/dev/null || true
  rmdir /var/lib/docker 2>/dev/null || true
  rm -rf /etc/apt/sources.list.d/kargo-trixie.sources /etc/apt/preferences.d/kargo-trixie \
         /var/lib/containerd /etc/docker /var/log/dockerd.log
fi
log "done"
