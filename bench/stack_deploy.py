#!/usr/bin/env python
"""Cold deploy and no-op re-run of the whole single-host stack (site.yml, images present),
beside the plain CLI bringing up the same rendered compose files (`docker compose up -d --wait`,
one project per service, in the same order), in the same run, on this engine.

Printed: wall-clock seconds of each. "kargo, same work as the CLI" runs site.yml without
the sample data load and the MapProxy seeding (which the CLI does not do); "kargo, full"
includes them.
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
SAME_WORK = {'kargo_sample_data': False, 'mapproxy_seed': False}


def remove_everything():
    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
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
        args = ['up', '-d', '--wait'] if action == 'up' else ['down', '-v']
        subprocess.run(['docker', 'compose', '-p', project, '-f', os.path.join(ROOT_DIR, service, 'compose.yml')] + args,
                       check=True, capture_output=True)
    return time.monotonic() - started


def main():
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    remove_everything()
    print('preparing: a first deploy renders the files and makes the sample data ...', flush=True)
    timed_site()
    remove_everything()

    cli_seconds = cli('up')
    cli('down')

    kargo_same, _ = timed_site(**SAME_WORK)
    noop_same, changed = timed_site(**SAME_WORK)
    remove_everything()
    kargo_full, _ = timed_site()
    noop_full, changed_full = timed_site()
    remove_everything()

    print('\nwhole stack, %d services, images present, %d cores' % (len(ORDER), os.cpu_count()))
    print('  %-58s %7.1f s' % ('plain CLI: docker compose up -d --wait, per service', cli_seconds))
    print('  %-58s %7.1f s  (%.2fx the CLI; target <= 1.3x)' % ('kargo cold deploy, same work as the CLI', kargo_same,
                                                              kargo_same / cli_seconds))
    print('  %-58s %7.1f s  (changed=%d; target < 30 s)' % ('kargo no-op re-run', noop_same, changed))
    print('  %-58s %7.1f s' % ('kargo cold deploy + sample data load + MapProxy seeding', kargo_full))
    print('  %-58s %7.1f s  (changed=%d)' % ('kargo no-op re-run of that', noop_full, changed_full))


if __name__ == '__main__':
    main()
