"""Module apt_packages on a real Debian host whose package lists were cleaned, as minimal and
container-made images leave them: a container of the lab-node image (its build empties
/var/lib/apt/lists minutes or seconds before), reached with the docker connection.

ansible.builtin.apt with cache_valid_time took such lists for fresh and failed with
"No package matching"; this module refreshes them when it must install, and never when
every package is there.
"""
import json
import os
import subprocess
import tempfile

import pytest
import yaml

from kargo_testlib import ansible_playbook

NODE = 'kargo-apt-node'
NODE_IMAGE = 'geostack-kargo/lab-node:0.1.0'


def run_task(args, check=False):
    """geostack.kargo.apt_packages with `args` on the container NODE; the task's result."""
    playbook = [{'hosts': 'all', 'gather_facts': False, 'tasks': [
        {'geostack.kargo.apt_packages': args, 'check_mode': check, 'diff': True, 'ignore_errors': True}]}]
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        yaml.safe_dump(playbook, handle)
    try:
        completed, _ = ansible_playbook(handle.name, ['-e', 'ansible_connection=community.docker.docker',
                                                      '-e', 'ansible_python_interpreter=/usr/bin/python3'],
                                        inventory=NODE + ',')
    finally:
        os.unlink(handle.name)
    try:
        report = json.loads(completed.stdout[completed.stdout.index('{'):])
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook:\n%s\n%s' % (completed.stdout, completed.stderr))
    return report['plays'][0]['tasks'][0]['hosts'][NODE]


def on_node(command, check=True):
    completed = subprocess.run(['docker', 'exec', NODE, 'sh', '-c', command], capture_output=True, text=True, timeout=120)
    if check:
        assert completed.returncode == 0, '%s: %s%s' % (command, completed.stdout, completed.stderr)
    return completed


def installed(package):
    return on_node('dpkg-query -W -f="\\${db:Status-Status}" %s' % package, check=False).stdout == 'installed'


def list_files():
    return on_node('ls /var/lib/apt/lists | grep -c _Packages || true').stdout.strip()


@pytest.fixture(scope='module')
def node_image():
    """The lab-node image, built by the lab role like `playbooks/lab.yml` does (a no-op when present)."""
    playbook = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'ansible.builtin.include_role': {'name': 'geostack.kargo.lab', 'tasks_from': 'image.yml'}}]}]
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        yaml.safe_dump(playbook, handle)
    try:
        completed, _ = ansible_playbook(handle.name, [], timeout=1800)
    finally:
        os.unlink(handle.name)
    assert completed.returncode == 0, completed.stdout[-5000:]


@pytest.fixture()
def node(node_image):
    """A fresh node: its package lists emptied by the image build, no update stamp."""
    subprocess.run(['docker', 'rm', '-f', NODE], capture_output=True)
    subprocess.run(['docker', 'run', '-d', '--name', NODE, '--entrypoint', 'sleep', NODE_IMAGE, 'infinity'],
                   check=True, capture_output=True)
    assert list_files() == '0' and not installed('curl')
    assert on_node('test -e /var/lib/apt/periodic/update-success-stamp', check=False).returncode != 0
    yield
    subprocess.run(['docker', 'rm', '-f', NODE], capture_output=True)


def test_installs_on_cleaned_lists_then_changes_nothing(node):
    planned = run_task({'name': ['curl', 'jq']}, check=True)
    assert planned['changed'] and planned['missing'] == ['curl', 'jq'], planned
    assert planned['diff']['prepared'] == '+ curl\n+ jq\n'
    assert not installed('curl') and list_files() == '0'  # check mode: neither updated nor installed

    applied = run_task({'name': ['curl', 'jq']})
    assert not applied.get('failed'), applied.get('msg')
    assert applied['changed'] and applied['cache_updated'], applied
    assert applied['cache_update_reason'] == 'there are no package lists (/var/lib/apt/lists is empty)'
    assert installed('curl') and installed('jq')

    # lists cleaned again: every package is there, so nothing at all happens (no update)
    on_node('rm -rf /var/lib/apt/lists/*')
    for check in (False, True):
        again = run_task({'name': ['curl', 'jq']}, check=check)
        assert not again['changed'] and not again['cache_updated'] and again['missing'] == [], again
    assert list_files() == '0'


def test_updates_when_the_sources_are_newer_or_the_lists_stale_but_not_when_fresh(node):
    first = run_task({'name': ['jq']})
    assert first['changed'] and first['cache_updated'], first

    # the last update is recent and the sources older: the lists are used as they are
    fresh = run_task({'name': ['less']})
    assert fresh['changed'] and not fresh['cache_updated'], fresh
    assert installed('less')

    on_node('touch /etc/apt/sources.list.d/*')
    sources = run_task({'name': ['file']})
    assert sources['cache_update_reason'] == 'the apt sources changed since the last update', sources

    on_node('find /etc/apt/sources.list* -exec touch -d "-3 hours" {} +; '
            'touch -d "-2 hours" /var/lib/apt/periodic/update-success-stamp')
    stale = run_task({'name': ['bzip2'], 'cache_valid_time': 3600})
    assert stale['cache_updated'] and stale['cache_update_reason'].startswith('the last update is 7'), stale
    assert installed('file') and installed('bzip2')


def test_bad_names_and_unknown_packages_fail_naming_them(node):
    bad = run_task({'name': ['curl', 'Not A Package', 'jq=']})
    assert bad['failed'] and bad['msg'] == 'name: not Debian package names (name or name=version): Not A Package, jq='
    unknown = run_task({'name': ['jq', 'kargo-no-such-package']})
    assert unknown['failed'], unknown
    assert unknown['msg'].startswith('no package matching kargo-no-such-package in the package lists, '
                                     'even after apt-get update'), unknown['msg']
    assert not installed('jq')  # nothing installed when one of the packages cannot be


def test_policy_rc_d_answers_while_installing_then_the_hosts_own_is_back(node):
    # the host's own policy lets services start (with it, installing cron starts cron here)
    host_policy = '#!/bin/sh\nexit 0\n'
    on_node("printf '%s' > /usr/sbin/policy-rc.d" % host_policy.replace('\n', '\\n'))
    applied = run_task({'name': ['cron'], 'policy_rc_d': 101})
    assert applied['changed'] and not applied.get('failed'), applied.get('msg')
    assert installed('cron')
    assert on_node('pgrep -x cron', check=False).returncode != 0, 'cron was started by its installation'
    assert on_node('cat /usr/sbin/policy-rc.d').stdout == host_policy
