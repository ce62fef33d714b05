#!/usr/bin/env python
"""Cold deploy and no-op re-run of the whole single-host stack (site.yml, images present),
beside the plain CLI bringing up the same rendered compose files (`docker compose up -d --wait`,
one project per service, in the same order), in the same run, on this engine.

"Cold" = no container of the stack, images and volumes present (the database already holds
the sample data, the MapProxy cache is seeded): both then create every container and wait
until it is healthy. Also printed: the first deploy ever (volumes removed too: sample data
loaded, MBTiles made, cache seeded), which the CLI cannot do. Wall-clock seconds; beside
them the CPU seconds of the commands run (Ansible and its modules, or the docker CLI) and
the load average when each finished: the machine is shared, a load above its core count
stretches the wall-clock figures.
"""
import collections
import os
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_stack import PREFIX, ROOT_DIR, SETTINGS  # noqa: E402
from bench_stack import remove as remove_stack  # noqa: E402
from kargo_testlib import run_playbook  # noqa: E402
ORDER = ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy']
# the machine is shared and single runs vary by 20%: each figure is the median of ROUNDS
# rounds (CLI, cold deploy, no-op re-run), the number given as the first argument
ROUNDS = 3


def median(runs):
    """The run of median wall-clock time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def remove(volumes):
    remove_stack(SETTINGS, volumes)


# wall-clock seconds, CPU seconds of the commands, load average at the end, changed tasks
Run = collections.namedtuple('Run', 'seconds cpu load changed')


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load():
    return os.getloadavg()[0]


def timed_site(**more):
    cpu = children_cpu()
    run = run_playbook('site.yml', dict(SETTINGS, **more))
    if run.rc != 0:
        sys.exit('site.yml failed:\n' + run.explain())
    return Run(run.seconds, children_cpu() - cpu, load(), run.stats()['changed'])


def cli(action):
    started, cpu = time.monotonic(), children_cpu()
    for service in (ORDER if action == 'up' else reversed(ORDER)):
        project = '%s-%s-cli' % (PREFIX, service.replace('_', '-'))
        args = ['up', '-d', '--wait'] if action == 'up' else ['down']
        subprocess.run(['docker', 'compose', '-p', project, '-f', os.path.join(ROOT_DIR, service, 'compose.yml')] + args,
                       check=True, capture_output=True)
    return Run(time.monotonic() - started, children_cpu() - cpu, load(), None)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    remove(volumes=True)
    first = timed_site()
    plains, colds, noops = [], [], []
    for number in range(1, rounds + 1):
        remove(volumes=False)
        plains.append(cli('up'))
        cli('down')
        colds.append(timed_site())
        noops.append(timed_site())
        print('round %d of %d: CLI %.1f s, kargo cold %.1f s (%.2fx), no-op %.1f s'
              % (number, rounds, plains[-1].seconds, colds[-1].seconds, colds[-1].seconds / plains[-1].seconds,
                 noops[-1].seconds), flush=True)
    remove(volumes=True)

    plain, cold, noop = median(plains), median(colds), median(noops)
    print('\nwhole stack, %d services, images present, %d cores; medians of %d rounds' % (len(ORDER), os.cpu_count(), rounds))
    line = '  %-62s %6.1f s  [cpu %5.1f s, load %4.1f]'
    print(line % ('plain CLI: docker compose up -d --wait, one project per service', plain.seconds, plain.cpu, plain.load))
    print(line % ('kargo cold deploy (site.yml, containers absent)', cold.seconds, cold.cpu, cold.load)
          + '  (%.2fx the CLI; target <= 1.3x)' % (cold.seconds / plain.seconds))
    print(line % ('kargo no-op re-run', noop.seconds, noop.cpu, noop.load)
          + '  (changed=%d; target < 30 s)' % noop.changed)
    print(line % ('kargo first deploy ever (+ sample data, MBTiles, seeding)', first.seconds, first.cpu, first.load))
    print('  cold/CLI of each round: ' + ', '.join('%.2fx' % (c.seconds / p.seconds) for c, p in zip(colds, plains)))


if __name__ == '__main__':
    main()
