"""The stack the benchmarks deploy (prefix kargo-bench) and how they remove it.

Its ports (19680, 19643) are used by no test: a benchmark stopped half-way must not make
`make test` fail on a port already allocated.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import run_playbook  # noqa: E402

PREFIX = 'kargo-bench'
ROOT_DIR = '/tmp/kargo-bench'
HTTPS_PORT = 19643
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
            'kargo_http_port': 19680, 'kargo_https_port': HTTPS_PORT,
            'kargo_services': ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy']}


def remove(settings, volumes):
    """remove.yml with these settings; with volumes, also its folders and shared networks."""
    removed = run_playbook('playbooks/remove.yml', dict(settings, kargo_remove_volumes=volumes))
    if removed.rc != 0:
        sys.exit('remove.yml failed:\n' + removed.explain())
    if volumes:
        root = settings['kargo_root']
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(settings['kargo_secrets_dir'], ignore_errors=True)
        # remove.yml keeps the shared networks unless every known service is removed
        prefix = settings['kargo_prefix']
        subprocess.run(['docker', 'network', 'rm', prefix + '-front', prefix + '-back'], capture_output=True)
