#!/usr/bin/env bash
# `make demo`: deploy the geospatial stack on this host (compose mode) and print where to look.
# Images are built from Debian packages on the first run (about 7 minutes on 2 cores);
# later runs reuse them. Extra arguments go to ansible-playbook (e.g. -e kargo_https_port=8443).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "[demo] ansible-playbook site.yml -i inventories/local $*"
# total time only (no per-task recap), so the URLs stay near the end of the output
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer ansible-playbook site.yml -i inventories/local "$@"

cat <<'TXT'

geostack.kargo is up: the URLs are listed just above ("Show where to look").
The certificate is self-signed: your browser asks to accept it; curl needs -k.

  Layer "countries" (Natural Earth, from Debian's qgis-common) is in PostGIS and served by
  QGIS Server (WMS), MapProxy (WMS/WMTS/TMS cache of the QGIS layer) and TileServer-GL
  (vector tiles + style).
  PostGIS: database gis, user kargo, internal network only;
           password in inventories/local/.secrets/db_password
  Settings and compose files: /opt/kargo/<service>/
  Again (changes nothing):  .venv/bin/ansible-playbook site.yml -i inventories/local
  Remove (keeps volumes):   .venv/bin/ansible-playbook playbooks/remove.yml -i inventories/local
TXT
