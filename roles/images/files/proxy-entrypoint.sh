#!/usr/bin/env bash
# Entrypoint of the kargo proxy image (nginx as www-data, ports 8080/8443).
# If PROXY_SELF_SIGNED_CN is set and /etc/nginx/tls/server.crt or server.key is
# missing, a self-signed certificate for that name is made first (openssl; valid
# PROXY_SELF_SIGNED_DAYS days, default 825) — /etc/nginx/tls must then be writable
# (it is in the image; mount a volume there to keep the certificate).
# Then the configuration is tested, the digest of the settings it starts with recorded
# (kargo-proxy-reload), and nginx runs in the foreground.
set -Eeuo pipefail

log() { printf '[proxy-entrypoint] %s\n' "$*" >&2; }

mkdir -p /tmp/nginx

if [ $# -gt 0 ] && [ "$1" != nginx ]; then
  exec "$@"
fi

crt=/etc/nginx/tls/server.crt
key=/etc/nginx/tls/server.key
if [ -n "${PROXY_SELF_SIGNED_CN:-}" ] && { [ ! -s "$crt" ] || [ ! -s "$key" ]; }; then
  cn=$PROXY_SELF_SIGNED_CN
  log "making a self-signed certificate for $cn in /etc/nginx/tls"
  umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 \
    -days "${PROXY_SELF_SIGNED_DAYS:-825}" \
    -subj "/CN=$cn" -addext "subjectAltName=DNS:$cn,DNS:localhost,IP:127.0.0.1" \
    -keyout "$key" -out "$crt" 2>/dev/null
  chmod 0644 "$crt"
  umask 022
fi

nginx -t -q
# what nginx starts with: kargo-proxy-reload applies later changes of these folders
kargo-proxy-reload --record
if [ $# -eq 0 ]; then
  set -- nginx -g 'daemon off;'
fi
exec "$@"
