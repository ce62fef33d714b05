#!/usr/bin/env python
"""Serving under load (issue 14's table): wrk (Debian's, in the tools image; 2 threads,
10 s per run, 16 then 64 connections, this machine's loopback only) against each endpoint
of the stack through the proxy over HTTPS, beside the limit measured in the same run:
nginx (the proxy's own image, the same TLS settings and certificate) serving the bytes
of the WMTS tile (and of the vector tile, the limit of that one) as static files. Each
endpoint is asked once before it is measured (tiles once cached). Prints req/s, p50, p99,
failed requests (non-2xx and socket errors) and the ratio to the limit.

The stack is deployed by site.yml (bench/bench_stack.py, as bench/stack_deploy.py). Then
QGIS Server's GetMap throughput with 1, 2 and 4 rendering processes (qgis_server_processes,
16 connections). The stack and the static nginx are removed at the end.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_stack import HTTPS_PORT, PREFIX, ROOT_DIR, SETTINGS, remove  # noqa: E402
from kargo_testlib import built_names, run_playbook  # noqa: E402
from load_runs import run_wrk  # noqa: E402
from stack_checks import GETMAP_256, get  # noqa: E402

STATIC_PORT = 19743
SETTINGS = dict(SETTINGS, kargo_backup_schedule='')
TILE = '/mapproxy/wmts/countries/webmercator/2/2/1.png'
VECTOR_TILE = '/tiles/data/countries/2/2/1.pbf'
ENDPOINTS = [
    ('landing page', '/'),
    ('MapProxy WMTS tile (seeded)', TILE),
    ('MapProxy TMS tile (seeded)', '/mapproxy/tms/1.0.0/countries/webmercator/1/2/2.png'),
    ('TileServer-GL vector tile', VECTOR_TILE),
    ('QGIS Server GetMap 256 px', GETMAP_256),
    ('QGIS Server WFS GetFeature 10', '/qgis/?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=countries'
                                      '&MAXFEATURES=10'),
]
# the TLS settings of roles/proxy/templates/default.conf.j2
STATIC_SITE = """
server {
    listen 8443 ssl;
    http2 on;
    ssl_certificate /srv/tls/server.crt;
    ssl_certificate_key /srv/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:static_tls:10m;
    ssl_session_tickets off;
    location / { root /srv/www; }
}
"""


def start_static_nginx(folder, files):
    """The proxy's image serving files ({name: bytes}) at /<name> on STATIC_PORT."""
    os.makedirs(os.path.join(folder, 'www'))
    os.makedirs(os.path.join(folder, 'tls'))
    for name, content in files.items():
        with open(os.path.join(folder, 'www', name), 'wb') as handle:
            handle.write(content)
    with open(os.path.join(folder, 'static.conf'), 'w') as handle:
        handle.write(STATIC_SITE)
    for kind in ('crt', 'key'):
        with open(os.path.join(ROOT_DIR, 'proxy', 'tls', 'selfsigned.' + kind), 'rb') as source:
            with open(os.path.join(folder, 'tls', 'server.' + kind), 'wb') as target:
                target.write(source.read())
    subprocess.run(['chmod', '-R', 'a+rX', folder], check=True)
    subprocess.run(['docker', 'rm', '-f', PREFIX + '-static'], capture_output=True)
    subprocess.run(['docker', 'run', '-d', '--name', PREFIX + '-static', '-p', '127.0.0.1:%d:8443' % STATIC_PORT,
                    '-v', folder + ':/srv:ro', '-v', folder + '/static.conf:/etc/nginx/kargo/static.conf:ro',
                    '--entrypoint', 'nginx', built_names()['proxy'], '-g', 'daemon off;'], check=True,
                   capture_output=True)


def row(name, measured, limit):
    ratio = '%.2fx' % (limit / measured['rps']) if measured['rps'] and limit else '-'
    return '| %s | %.0f | %.2f ms | %.2f ms | %d | %s |' % (name, measured['rps'], measured['p50_ms'] or 0,
                                                          measured['p99_ms'] or 0, measured['failed'], ratio)


def main():
    deployed = run_playbook('site.yml', SETTINGS)
    if deployed.rc != 0:
        sys.exit(deployed.explain())
    try:
        measure()
    finally:
        remove(SETTINGS, volumes=True)


def measure():
    base = 'https://localhost:%d' % HTTPS_PORT
    # each endpoint asked once first: tiles are measured once cached, as the issue asks
    answers = dict((path, get(base, path)) for _name, path in ENDPOINTS)
    assert [path for path, answer in answers.items() if answer.status_code != 200] == []
    # the limit of the vector tile is its own bytes (gzipped, 4 to 5 times the PNG's)
    with tempfile.TemporaryDirectory(prefix='kargo-bench-static-') as folder:
        start_static_nginx(folder, {'tile.png': answers[TILE].content, 'tile.pbf': answers[VECTOR_TILE].content})
        try:
            for connections in (16, 64):
                print('\n%d connections, 2 threads, 10 s each, HTTPS (this machine, %d cores)'
                      % (connections, os.cpu_count()))
                print('| request | req/s | p50 | p99 | failed | limit / this |')
                print('|---|---|---|---|---|---|')
                limit = run_wrk('https://localhost:%d/tile.png' % STATIC_PORT, connections, 10)
                print(row('nginx serving the WMTS tile\'s bytes (%d) as a static file (the limit)'
                          % len(answers[TILE].content), limit, None), flush=True)
                vector_limit = run_wrk('https://localhost:%d/tile.pbf' % STATIC_PORT, connections, 10)
                print(row('nginx serving the vector tile\'s bytes (%d) as a static file (its limit)'
                          % len(answers[VECTOR_TILE].content), vector_limit, None), flush=True)
                for name, path in ENDPOINTS:
                    reference = vector_limit if path == VECTOR_TILE else limit
                    print(row(name, run_wrk(base + path, connections, 10), reference['rps']), flush=True)
        finally:
            subprocess.run(['docker', 'rm', '-f', PREFIX + '-static'], capture_output=True)
    print_qgis_scaling(base)


def print_qgis_scaling(base):
    """GetMap throughput by number of QGIS Server processes, each deployed by site.yml."""
    getmap = dict(ENDPOINTS)['QGIS Server GetMap 256 px']
    print('\nQGIS Server GetMap 256 px by rendering processes (16 connections, 10 s, %d cores)' % os.cpu_count())
    print('| processes | req/s | p50 | p99 | failed |')
    print('|---|---|---|---|---|')
    for processes in (1, 2, 4):
        deployed = run_playbook('site.yml', dict(SETTINGS, qgis_server_processes=processes))
        if deployed.rc != 0:
            sys.exit(deployed.explain())
        get(base, getmap)  # the project is read by the first request of each process
        measured = run_wrk(base + getmap, 16, 10)
        print('| %d | %.0f | %.2f ms | %.2f ms | %d |' % (processes, measured['rps'], measured['p50_ms'] or 0,
                                                         measured['p99_ms'] or 0, measured['failed']), flush=True)


if __name__ == '__main__':
    main()
