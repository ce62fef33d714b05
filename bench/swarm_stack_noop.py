#!/usr/bin/env python
"""No-op re-run of a 10-service swarm stack: geostack.kargo.swarm_stack vs community.docker.docker_stack
vs a plain `docker stack deploy --resolve-image never`, in the same run, on this engine.

Each stack is deployed once, then re-deployed unchanged RUNS times. For the two modules the time is the
task's own duration (from the ansible.posix.json callback), not Ansible's start-up. Prints medians.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import docker
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import TEST_IMAGE, ensure_test_image  # noqa: E402

SERVICES = 10
RUNS = int(os.environ.get('BENCH_RUNS', '5'))
STACKS = {'kargo': 'bench-kargo', 'community': 'bench-community', 'cli': 'bench-cli'}


def compose_files(workdir):
    with open(os.path.join(workdir, 'page.html'), 'w') as handle:
        handle.write('bench\n')
    base = {'services': {}, 'configs': {'page': {'file': './page.html'}}}
    overlay = {'services': {}}
    for index in range(SERVICES):
        base['services']['svc%02d' % index] = {
            'image': TEST_IMAGE, 'command': ['sleep', '1000000'], 'stop_grace_period': '1s',
            'configs': [{'source': 'page', 'target': '/www/index.html'}]}
        overlay['services']['svc%02d' % index] = {'deploy': {'endpoint_mode': 'dnsrr', 'replicas': 1}}
    paths = []
    for name, document in (('compose.yml', base), ('compose.swarm.yml', overlay)):
        path = os.path.join(workdir, name)
        with open(path, 'w') as handle:
            yaml.safe_dump(document, handle)
        paths.append(path)
    return paths


def run_playbook(tasks):
    playbook = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        yaml.safe_dump(playbook, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CALLBACKS_ENABLED='ansible.posix.json')
    out = subprocess.run([os.path.join(sys.prefix, 'bin', 'ansible-playbook'), '-i',
                          os.path.join(ROOT, 'inventories', 'local'), handle.name],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=False).stdout
    os.unlink(handle.name)
    report = json.loads(out[out.index('{'):])
    results = []
    for task in report['plays'][0]['tasks']:
        duration = task['task']['duration']
        seconds = (parse(duration['end']) - parse(duration['start']))
        result = task['hosts']['localhost']
        if result.get('failed'):
            raise SystemExit('task failed: %s' % result.get('msg'))
        results.append((seconds, result.get('changed')))
    return results


def parse(stamp):
    from datetime import datetime
    return datetime.strptime(stamp.rstrip('Z'), '%Y-%m-%dT%H:%M:%S.%f').timestamp()


def main():
    ensure_test_image()
    client = docker.from_env()
    if client.info()['Swarm']['LocalNodeState'] == 'inactive':
        client.swarm.init(advertise_addr='127.0.0.1')
    workdir = tempfile.mkdtemp(prefix='kargo-bench-')
    files = compose_files(workdir)
    ours = {'geostack.kargo.swarm_stack': {'name': STACKS['kargo'], 'files': files, 'resolve_image': 'never'}}
    theirs = {'community.docker.docker_stack': {'name': STACKS['community'], 'compose': files,
                                                'resolve_image': 'never'}}
    cli = ['docker', 'stack', 'deploy', '--resolve-image', 'never', '-c', files[0], '-c', files[1], STACKS['cli']]
    try:
        print('[bench] deploying three stacks of %d services (first deploy, not measured)' % SERVICES, flush=True)
        run_playbook([dict(ours), dict(theirs)])
        subprocess.run(cli, check=True, capture_output=True)
        time.sleep(5)
        print('[bench] %d no-op re-runs of each' % RUNS, flush=True)
        floor = {'ansible.builtin.command': {'cmd': 'true'}}
        results = run_playbook([dict(ours) for _ in range(RUNS)] + [dict(theirs) for _ in range(RUNS)]
                               + [dict(floor) for _ in range(RUNS)])
        kargo, community, trivial = results[:RUNS], results[RUNS:2 * RUNS], results[2 * RUNS:]
        cli_times = []
        for _ in range(RUNS):
            started = time.monotonic()
            subprocess.run(cli, check=True, capture_output=True)
            cli_times.append(time.monotonic() - started)
        kargo_median = statistics.median(s for s, _ in kargo)
        community_median = statistics.median(s for s, _ in community)
        cli_median = statistics.median(cli_times)
        print('')
        print('no-op re-run of a %d-service swarm stack, median of %d runs' % (SERVICES, RUNS))
        print('  geostack.kargo.swarm_stack      %6.2f s  changed=%s  (no docker stack deploy)'
              % (kargo_median, sorted(set(c for _, c in kargo))))
        print('  community.docker.docker_stack   %6.2f s  changed=%s  (runs docker stack deploy every time)'
              % (community_median, sorted(set(c for _, c in community))))
        print('  docker stack deploy (CLI)       %6.2f s' % cli_median)
        print('  (a trivial command task         %6.2f s: Ansible\'s own cost of running any module)'
              % statistics.median(s for s, _ in trivial))
        print('  ratio kargo / docker_stack      %6.2f   (target <= 0.50)' % (kargo_median / community_median))
        print('  ratio kargo / plain CLI         %6.2f' % (kargo_median / cli_median))
    finally:
        for stack in STACKS.values():
            subprocess.run(['docker', 'stack', 'rm', stack], capture_output=True)


if __name__ == '__main__':
    main()
