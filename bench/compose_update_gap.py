#!/usr/bin/env python
"""What a changed setting costs in compose mode (issue 14): for each service, site.yml
applies one changed setting of it while a client asks the stack for that service's
answer through the proxy over HTTPS, one request after the other (this machine's
loopback only, bounded by the run). Prints the requests made, the failed ones (non-2xx,
socket errors, 5 s timeouts), the longest time without a good answer (from the last
good answer before a failure to the first good answer after it) and the slowest answer
(a request held while the service restarted, answered well but late).

Compose mode recreates the one container whose settings changed (compose_project), so
that gap is the time the service takes to stop, start and become healthy behind the
proxy; the proxy's own settings are applied by an nginx reload in its container. The stack is the one of bench/serving_load.py (prefix kargo-bench), left running
with its default settings.
"""
import contextlib
import os
import sys
import threading
import time

import requests
import urllib3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kargo_testlib import run_playbook  # noqa: E402
from load_runs import LoadDuring, longest_gap  # noqa: E402
from serving_load import HTTPS_PORT, SETTINGS  # noqa: E402

BASE = 'https://localhost:%d' % HTTPS_PORT
# service, the setting changed, the request that needs the service
CHANGES = [
    ('postgis', {'postgis_work_mem': '32MB'},
     '/qgis/?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=countries&MAXFEATURES=1'),
    ('qgis_server', {'qgis_server_log_level': 0}, '/qgis/?SERVICE=WMS&REQUEST=GetCapabilities'),
    ('mapproxy', {'mapproxy_meta_buffer': 100}, '/mapproxy/wmts/countries/webmercator/2/2/1.png'),
    ('tileserver_gl', {'tileserver_gl_max_zoom': 5}, '/tiles/data/countries/2/2/1.pbf'),
    ('proxy', {'proxy_referrer_policy': 'no-referrer'}, '/'),
]


class Prober(threading.Thread):
    """Asks for one URL in a loop until stopped; keeps (start, end, good) per request."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.answers, self.stopping = url, [], threading.Event()

    def run(self):
        session = requests.Session()
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                good = session.get(self.url, verify=False, timeout=5).status_code < 300
            except requests.RequestException:
                good = False
                session = requests.Session()
            self.answers.append((started, time.monotonic(), good))
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join()


def measure_changes(base, changes, apply, load_connections=0):
    """For each (service, change, path) of `changes`: apply(settings) (the earlier changes
    kept) while a Prober asks base + path and, with load_connections, wrk asks it too
    (paced: 25 ms between a connection's requests, a connection per request). Prints a
    table row per change."""
    load = ' | wrk requests | wrk failed' if load_connections else ''
    print('| service | setting changed | site.yml | requests | failed | longest without a good answer | slowest answer%s |' % load)
    print('|---|---|---|---|---|---|---|%s' % ('---|---|' if load_connections else ''))
    settings = {}
    for service, change, path in changes:
        # the earlier changes stay: only this service's setting differs from the last run
        settings.update(change)
        prober = Prober(base + path)
        with contextlib.ExitStack() as stack:
            wrk = stack.enter_context(LoadDuring(base + path, connections=load_connections, pause_ms=25, new_connections=True)) \
                if load_connections else None
            prober.start()
            time.sleep(1)
            applied = apply(settings)
            time.sleep(1)
            prober.stop()
        if applied.rc != 0:
            sys.exit(applied.explain())
        failed = sum(1 for _s, _e, good in prober.answers if not good)
        setting = ', '.join('%s=%s' % item for item in change.items())
        slowest = max(ended - started for started, ended, _good in prober.answers)
        row = '| %s | %s | %.1f s | %d | %d | %.2f s | %.2f s |' % (
            service, setting, applied.seconds, len(prober.answers), failed, longest_gap(prober.answers), slowest)
        if wrk:
            row += ' %d | %d %s |' % (wrk.report['requests'], wrk.report['failed'], wrk.report['errors'] or '')
        print(row, flush=True)


def main():
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    deployed = run_playbook('site.yml', SETTINGS)
    if deployed.rc != 0:
        sys.exit(deployed.explain())
    print('\nCompose mode: one changed setting per service applied by site.yml, a client asking '
          'all along (one request at a time, %d cores)' % os.cpu_count())
    try:
        measure_changes(BASE, CHANGES, lambda changed: run_playbook('site.yml', dict(SETTINGS, **changed)))
    finally:
        run_playbook('site.yml', SETTINGS)


if __name__ == '__main__':
    main()
