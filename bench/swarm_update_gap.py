#!/usr/bin/env python
"""What a changed setting costs in swarm mode (issue 14), on a lab of 3 nodes (1 manager,
2 workers: the lab of bench/lab_nodes.py): for each service, site.yml applies one changed
setting of it while a client asks the stack for that service's answer through the proxy
on the manager, one request after the other, and wrk asks it too (8 connections, each
pausing 25 ms between requests, a connection per request). Load goes only to the lab's
own address, bounded by the run. Prints the requests made, the failed ones, the longest
time without a good answer and the slowest answer (as bench/compose_update_gap.py).

QGIS Server, MapProxy and TileServer GL (2 replicas) roll start-first and their stopped
replicas drain (kargo_drain_seconds): no gap expected. The database is one replica and
rolls stop-first (two servers on one data folder cannot run): its gap is the time
PostgreSQL takes to stop and start. The proxy's settings are applied by an nginx reload
in its container; a change of its service definition replaces its task stop-first (its
ports are published in host mode), measured last.
"""
import os
import sys

import urllib3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compose_update_gap import CHANGES, measure_changes  # noqa: E402
from kargo_testlib import run_playbook  # noqa: E402
from lab_nodes import INVENTORY_DIR, MANAGER_IP, SETTINGS, lab  # noqa: E402

INVENTORY = INVENTORY_DIR + '/hosts.yml'
# and a change of the proxy's service definition (not of its site): its task is replaced,
# stop-first (its ports are published in host mode on the manager: two tasks cannot hold them)
REPLACED_PROXY = ('proxy (replaced)', {'proxy_stop_grace_period': 20}, '/')


def site(changed):
    return run_playbook('site.yml', dict(SETTINGS, **changed), inventory=INVENTORY)


def main():
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    lab('absent')
    lab('present', workers=2)
    try:
        deployed = site({})
        if deployed.rc != 0:
            sys.exit(deployed.explain())
        print('\nSwarm mode (3 lab nodes, 2 replicas of QGIS Server, MapProxy and TileServer GL): one changed '
              'setting per service applied by site.yml, a client asking all along and wrk beside it (%d cores)'
              % os.cpu_count())
        measure_changes('https://' + MANAGER_IP, CHANGES + [REPLACED_PROXY], site, load_connections=8)
    finally:
        lab('absent')


if __name__ == '__main__':
    main()
