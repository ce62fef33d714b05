"""Every module's documentation renders with ansible-doc and states its attributes."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if name.endswith('.py'))


def test_runtime_action_group_lists_every_docker_module():
    """The docker group (module_defaults for docker_host...) is every module that talks to Docker."""
    import yaml
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    docker_modules = []
    for module in MODULES:
        with open(os.path.join(ROOT, 'plugins', 'modules', module + '.py')) as handle:
            if 'CONNECTION_ARGS' in handle.read():
                docker_modules.append(module)
    assert sorted(runtime['action_groups']['docker']) == docker_modules


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders(module):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    completed = subprocess.run([os.path.join(sys.prefix, 'bin', 'ansible-doc'), '--json', 'geostack.kargo.' + module],
                               cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    doc = json.loads(completed.stdout)['geostack.kargo.' + module]
    assert set(doc['doc']['attributes']) >= {'check_mode', 'diff_mode', 'idempotent'}
    assert doc['examples'].strip() and doc['return']
