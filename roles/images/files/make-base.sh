#!/usr/bin/env bash
# Make a minimal Debian base image without any container registry:
#   debootstrap --variant=minbase SUITE DIR MIRROR  ->  tar | docker import
#
# Usage: make-base.sh SUITE IMAGE_NAME [MIRROR]
#   SUITE       Debian suite (trixie, bookworm, ...)
#   IMAGE_NAME  image to create, e.g. kargo-dev/debian:trixie
#   MIRROR      Debian mirror (default http://deb.debian.org/debian)
# Environment:
#   SECURITY_MIRROR  mirror of debian-security written into the image's apt sources
#                    (default http://deb.debian.org/debian-security; set it empty to
#                    leave the security suite out, e.g. when only MIRROR is reachable)
#   FORCE=1          rebuild even if IMAGE_NAME already exists
#
# Idempotent: does nothing when IMAGE_NAME already exists. Needs root, debootstrap
# and a running Docker engine. Takes about 40-60 s.
set -euo pipefail

log() { printf '[make-base] %s\n' "$*" >&2; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 SUITE IMAGE_NAME [MIRROR]" >&2
  exit 2
fi
SUITE=$1
IMAGE=$2
MIRROR=${3:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR-http://deb.debian.org/debian-security}

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already exists, nothing to do"
  exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { log "must run as root (debootstrap)"; exit 1; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/kargo-base-${SUITE}.XXXXXX")
cleanup() { rm -rf --one-file-system "$DIR"; }
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE $DIR $MIRROR"
debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$DIR.log" 2>&1 || {
  tail -n 30 "$DIR.log" >&2; rm -f "$DIR.log"; exit 1; }
rm -f "$DIR.log"

# --- apt sources (deb822), with -updates and security -------------------------
rm -f "$DIR/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" "$SUITE" "$SUITE"
  if [ -n "$SECURITY_MIRROR" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$SECURITY_MIRROR" "$SUITE"
  fi
} >"$DIR/etc/apt/sources.list.d/debian.sources"

# --- apt: no recommends/suggests, no caches kept in images ---------------------
cat >"$DIR/etc/apt/apt.conf.d/90kargo-minimal" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
Dpkg::Use-Pty "0";
EOF
cat >"$DIR/etc/apt/apt.conf.d/91kargo-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF

# --- dpkg: no docs, man pages, info or translations ---------------------------
cat >"$DIR/etc/dpkg/dpkg.cfg.d/90kargo-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find "$DIR/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$DIR/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$DIR"/usr/share/man/* "$DIR"/usr/share/info/* "$DIR"/usr/share/locale/*/ 2>/dev/null || true

# --- services must not start during image builds -------------------------------
printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod 0755 "$DIR/usr/sbin/policy-rc.d"

# --- trim the tree: caches, logs, host identity --------------------------------
rm -rf "$DIR"/var/lib/apt/lists/* "$DIR"/var/cache/apt/*.bin "$DIR"/var/cache/apt/archives/*.deb \
       "$DIR"/var/log/* "$DIR"/tmp/* "$DIR"/var/tmp/* 2>/dev/null || true
: >"$DIR/etc/machine-id" 2>/dev/null || true
rm -f "$DIR/etc/hostname" "$DIR/etc/resolv.conf"

log "importing into docker as $IMAGE"
tar --numeric-owner -C "$DIR" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --message "debootstrap --variant=minbase $SUITE $MIRROR" \
  - "$IMAGE" >/dev/null
log "done: $(docker image inspect --format '{{.Id}} {{.Size}}' "$IMAGE")"
