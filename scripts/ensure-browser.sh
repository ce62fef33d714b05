#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the page tests (the landing page's cards, the
# map page) load the stack's pages in it, headless, and look at its screenshots.
# Idempotent: does nothing when chromium is there.
set -euo pipefail

log() { printf '[ensure-browser] %s\n' "$*"; }
# (Debian's chromium wrapper script complains on stderr about its own arithmetic)
version() { chromium --version 2>/dev/null; }

if command -v chromium >/dev/null 2>&1; then
  log "$(version) already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
log "installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "$(version)"
