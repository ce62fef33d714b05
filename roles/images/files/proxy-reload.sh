#!/bin/sh
# kargo-proxy-reload: applies the proxy's settings as they are now in its mounted folders
# (/etc/nginx/kargo: the site and its pages; /etc/nginx/tls: certificate and key) by
# reloading nginx, without replacing the container: new workers take the new settings,
# the old ones finish the requests they have. Only when they changed since nginx started
# or was last reloaded: the entrypoint and this script record their digest.
#   kargo-proxy-reload          prints "unchanged" or "reloaded"; a site nginx refuses
#                               is not applied (nginx keeps the running one): its
#                               message, exit 1
#   kargo-proxy-reload --check  prints "unchanged" or "would reload", changes nothing
#   kargo-proxy-reload --record records the digest of the settings (the entrypoint)
set -eu

applied=/tmp/nginx/settings.sha256

digest() {
  find /etc/nginx/kargo /etc/nginx/tls -type f | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -d' ' -f1
}

now=$(digest)
case "${1:-}" in
  --record) printf '%s\n' "$now" > "$applied"; exit 0 ;;
esac
# not started yet (the entrypoint records what it starts with): it reads them as they are
if [ "$now" = "$(cat "$applied" 2>/dev/null)" ] || [ ! -s /tmp/nginx/nginx.pid ]; then
  echo unchanged
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "would reload"
  exit 0
fi
# what nginx -t says is shown only when it refuses the site (njs says a notice each time)
if ! tested=$(nginx -t -q 2>&1); then
  printf '%s\n' "$tested"
  exit 1
fi
nginx -s reload 2>&1 | grep -v 'signal process started' >&2 || true
printf '%s\n' "$now" > "$applied"
echo reloaded
