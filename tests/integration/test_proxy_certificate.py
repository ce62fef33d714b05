"""The proxy's self-signed certificate (roles/proxy/tasks/selfsigned.yml): made once, left alone
by a re-run (no key, request or certificate task runs), made again for another kargo_hostname
or when its key is gone."""
import os

import yaml

from kargo_testlib import run_playbook


def run(root, hostname='localhost'):
    """Run the role's certificate tasks; (how many changed something, the certificate's common name)."""
    playbook = root / 'certificate.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'ansible.builtin.file': {'path': str(root / 'proxy' / 'tls'), 'state': 'directory', 'mode': '0755'}},
        {'ansible.builtin.include_role': {'name': 'geostack.kargo.proxy', 'tasks_from': 'selfsigned.yml'}},
        {'name': 'Read the certificate',
         'community.crypto.x509_certificate_info': {'path': str(root / 'proxy' / 'tls' / 'selfsigned.crt')}},
    ]}]))
    result = run_playbook(str(playbook), {'kargo_root': str(root), 'kargo_hostname': hostname,
                                          'proxy_container_uid': os.getuid()})
    assert result.rc == 0, result.explain()
    results = list(result.task_results())
    changed = [name for name, outcome in results[1:-1] if outcome.get('changed')]
    return len(changed), results[-1][1]['subject']['commonName']


def test_made_once_then_left_alone(tmp_path):
    changed, name = run(tmp_path)
    assert changed > 0 and name == 'localhost'
    certificate = tmp_path / 'proxy' / 'tls' / 'selfsigned.crt'
    made = certificate.stat().st_mtime_ns

    changed, name = run(tmp_path)
    assert changed == 0 and name == 'localhost'
    assert certificate.stat().st_mtime_ns == made, 'a re-run must not touch the certificate'


def test_made_again_for_another_host_name_or_without_its_key(tmp_path):
    run(tmp_path)
    changed, name = run(tmp_path, hostname='maps.example.org')
    assert changed > 0 and name == 'maps.example.org'
    assert run(tmp_path, hostname='maps.example.org')[0] == 0

    (tmp_path / 'proxy' / 'tls' / 'selfsigned.key').unlink()
    changed, name = run(tmp_path, hostname='maps.example.org')
    assert changed > 0 and (tmp_path / 'proxy' / 'tls' / 'selfsigned.key').exists()
    assert run(tmp_path, hostname='maps.example.org')[0] == 0
