#!/usr/bin/env python
"""Multi-host deploy on 3 and on 5 lab nodes (1 manager + 2 or 4 workers, docker-in-docker
containers reached over SSH): the time site.yml takes from bare nodes to the converged
stack, and a no-op re-run; beside them, the plain CLI doing the no-op's bare minimum on
the same swarm (`docker stack deploy` of every stack's rendered files, from the manager).
Target: the no-op re-run grows by less than 20% from 3 to 5 nodes. Wall-clock seconds.
The images are built on this machine before (so both sizes start with them present here).
"""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import run_playbook  # noqa: E402

LAB = 'kargo-labbench'
INVENTORY_DIR = '/tmp/' + LAB
MANAGER_IP = '10.75.0.10'
SETTINGS = {'kargo_prefix': LAB, 'kargo_hostname': MANAGER_IP,
            'kargo_services': ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy']}
STACKS = ('postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy')


def lab(state, workers=2):
    made = run_playbook('playbooks/lab.yml', {'lab_prefix': LAB, 'lab_subnet': '10.75.0.0/24', 'lab_workers': workers,
                                              'lab_inventory_dir': INVENTORY_DIR, 'lab_state': state})
    if made.rc != 0:
        sys.exit('lab.yml failed:\n' + made.explain())


def timed_site():
    run = run_playbook('site.yml', SETTINGS, inventory=INVENTORY_DIR + '/hosts.yml')
    if run.rc != 0:
        sys.exit('site.yml failed:\n' + run.explain())
    changed = sum(stats['changed'] for stats in run.report['stats'].values())
    return run.seconds, changed


def cli_stack_deploys():
    """`docker stack deploy` of each rendered stack, from the manager (what a user of the CLI re-runs)."""
    started = time.monotonic()
    for stack in STACKS:
        folder = '/opt/kargo/%s' % stack
        subprocess.run(['docker', 'exec', '-w', folder, LAB + '-node1', 'docker', 'stack', 'deploy', '--detach=true',
                        '--resolve-image', 'never', '-c', 'compose.yml', '-c', 'compose.swarm.yml',
                        '%s-%s' % (LAB, stack.replace('_', '-'))], check=True, capture_output=True)
    return time.monotonic() - started


def measure(nodes):
    lab('absent')
    lab('present', workers=nodes - 1)
    try:
        cold, _ = timed_site()
        noop, changed = timed_site()
        cli = cli_stack_deploys()
    finally:
        lab('absent')
    return cold, noop, changed, cli


def main():
    figures = dict((nodes, measure(nodes)) for nodes in (3, 5))
    print('\nmulti-host stack on lab nodes (%d cores on this machine)' % os.cpu_count())
    for nodes, (cold, noop, changed, cli) in sorted(figures.items()):
        print('  %d nodes: bare nodes -> converged stack %6.1f s; no-op re-run %6.1f s (changed=%d); '
              'plain CLI docker stack deploy x5 %5.1f s' % (nodes, cold, noop, changed, cli))
    growth = figures[5][1] / figures[3][1] - 1
    print('  no-op growth from 3 to 5 nodes: %+.0f%% (target < 20%%)' % (growth * 100))


if __name__ == '__main__':
    main()
