#!/usr/bin/env bash
# `make demo`: deploy the geospatial stack on this host and print where to look.
set -euo pipefail
cat <<'TXT'
geostack.kargo demo
===================
What `make demo` will do once the service roles land (issue "The geospatial stack on
one host"): build every service image from Debian packages on this host (no registry
is needed), then run `ansible-playbook site.yml -i inventories/local`, which deploys
PostGIS, QGIS Server, MapProxy, TileServer-GL (and GeoServer when you provide its war)
behind an nginx TLS proxy on https://localhost/, loads sample data, and prints the URLs.

Today the collection has its foundation only: the Docker Engine set-up (done above)
and the modules geostack.kargo.compose_project, swarm_stack and swarm_member.
Try one:  .venv/bin/ansible-doc geostack.kargo.compose_project
TXT
