#!/usr/bin/env python
"""Cold deploy and no-op re-run of the whole single-host stack (site.yml, images present),
beside the plain CLI bringing up the same rendered compose files (`docker compose up -d --wait`,
one project per service, in the same order), in the same run, on this engine.

"Cold" = no container of the stack, images and volumes present (the database already holds
the sample data, the MapProxy cache is seeded): both then create every container and wait
until it is healthy. Also printed: the first deploy ever (volumes removed too: sample data
loaded, MBTiles made, cache seeded), which the CLI cannot do. Wall-clock seconds.
"""
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import run_playbook  # noqa: E402

PREFIX = 'kargo-bench'
ROOT_DIR = '/tmp/kargo-bench'
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
            'kargo_http_port': 19080, 'kargo_https_port': 19443,
            'kargo_services': ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy']}
ORDER = ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy']


def remove(volumes):
    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=volumes))
    if removed.rc != 0:
        sys.exit('remove.yml failed:\n' + removed.explain())


def timed_site(**more):
    run = run_playbook('site.yml', dict(SETTINGS, **more))
    if run.rc != 0:
        sys.exit('site.yml failed:\n' + run.explain())
    return run.seconds, run.stats()['changed']


def cli(action):
    started = time.monotonic()
    for service in (ORDER if action == 'up' else reversed(ORDER)):
        project = '%s-%s-cli' % (PREFIX, service.replace('_', '-'))
        args = ['up', '-d', '--wait'] if action == 'up' else ['down']
        subprocess.run(['docker', 'compose', '-p', project, '-f', os.path.join(ROOT_DIR, service, 'compose.yml')] + args,
                       check=True, capture_output=True)
    return time.monotonic() - started


def main():
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    remove(volumes=True)
    first, _ = timed_site()
    remove(volumes=False)

    cli_seconds = cli('up')
    cli('down')

    kargo_cold, _ = timed_site()
    noop, changed = timed_site()
    remove(volumes=True)
    # remove.yml keeps the shared networks unless every known service is removed
    subprocess.run(['docker', 'network', 'rm', PREFIX + '-front', PREFIX + '-back'], capture_output=True)

    print('\nwhole stack, %d services, images present, %d cores' % (len(ORDER), os.cpu_count()))
    print('  %-62s %6.1f s' % ('plain CLI: docker compose up -d --wait, one project per service', cli_seconds))
    print('  %-62s %6.1f s  (%.2fx the CLI; target <= 1.3x)' % ('kargo cold deploy (site.yml, containers absent)',
                                                              kargo_cold, kargo_cold / cli_seconds))
    print('  %-62s %6.1f s  (changed=%d; target < 30 s)' % ('kargo no-op re-run', noop, changed))
    print('  %-62s %6.1f s' % ('kargo first deploy ever (+ sample data, MBTiles, seeding)', first))


if __name__ == '__main__':
    main()
