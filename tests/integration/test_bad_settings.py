"""Wrong settings stop site.yml before anything is built or deployed, naming the setting."""
import os
import subprocess
import sys

import pytest
import yaml

from kargo_testlib import ROOT, engine, run_playbook

PREFIX = 'kargo-bad'
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': '/tmp/kargo-bad', 'kargo_secrets_dir': '/tmp/kargo-bad-secrets'}


@pytest.mark.parametrize('settings, message', [
    ({'kargo_services': ['postgis', 'mapserver']},
     'kargo_services: mapserver is not one of postgis, qgis_server, mapproxy, tileserver_gl, geoserver, proxy'),
    ({'kargo_https_port': 70000}, 'kargo_https_port: 70000 is not a port number (1-65535)'),
    ({'kargo_http_port': 0}, 'kargo_http_port: 0 is not a port number (1-65535)'),
    ({'postgis_publish_port': 65536}, 'postgis_publish_port: 65536 is not a port number (1-65535)'),
    ({'proxy_tls_certificate_file': '/nonexistent/kargo.crt', 'proxy_tls_key_file': '/nonexistent/kargo.key'},
     'proxy_tls_certificate_file: /nonexistent/kargo.crt does not exist on the controller'),
    ({'qgis_server_processes': 0}, 'qgis_server_processes: 0 is not a number of processes (1-64) or auto'),
    ({'mapproxy_seed_max_level': 25}, 'mapproxy_seed_max_level: 25 is not a zoom level, must be between 0 and 20'),
    ({'mapproxy_max_requests': -1}, 'mapproxy_max_requests: -1 is not a number of requests (0 = workers never'),
    ({'tileserver_gl_max_zoom': 15}, 'tileserver_gl_max_zoom: 15 is not a zoom level, must be between 0 and 14'),
    ({'images_max_age_days': 'weekly'}, 'images_max_age_days: weekly must be a number'),
    ({'kargo_backup_schedule': 'every night'},
     'kargo_backup_schedule: "every night" must be a cron expression of five fields'),
    ({'kargo_backup_keep_daily': -1}, 'kargo_backup_keep_daily: -1 must be between 0 and 100000'),
    ({'kargo_update_monitor_seconds': 0}, 'kargo_update_monitor_seconds: 0 must be between 1 and 3600'),
    ({'kargo_drain_seconds': -5}, 'kargo_drain_seconds: -5 must be between 0 and 3600'),
    ({'proxy_tiles_max_age': -1}, 'proxy_tiles_max_age: -1 is not a whole number of seconds >= 0'),
    ({'images_build_parallel': 0}, 'images_build_parallel: 0 is not a number of builds at once (1-16)'),
    ({'mapproxy_cache_directory_layout': 'tc'},
     'mapproxy_cache_type file, mapproxy_cache_directory_layout tc: the proxy answers the cached tiles from their files'
     ' (kargo_proxy_serves_tiles: true), which needs the file cache in the tms layout'),
], ids=['unknown-service', 'https-port-too-high', 'http-port-zero', 'postgis-port-too-high', 'missing-certificate',
        'qgis-processes-zero', 'mapproxy-seed-level-too-high', 'mapproxy-max-requests-negative',
        'tileserver-zoom-too-high',
        'image-age-not-a-number', 'backup-schedule-not-cron', 'backup-keep-negative', 'update-monitor-zero', 'drain-negative', 'tiles-max-age-negative', 'builds-at-once-zero',
        'tile-files-need-the-tms-layout'])
def test_bad_setting_fails_before_anything_is_deployed(settings, message):
    run = run_playbook('site.yml', dict(SETTINGS, **settings))
    print('\n' + '\n'.join(run.failure_messages()))
    assert run.rc != 0
    assert any(message in failure for failure in run.failure_messages()), run.explain()
    assert run.stats().get('changed', 0) == 0, run.changed_tasks()
    leftovers = [c.name for c in engine().containers.list(all=True)
                 if c.labels.get('com.docker.compose.project', '').startswith(PREFIX)]
    assert leftovers == []
    assert [n.name for n in engine().networks.list() if n.name.startswith(PREFIX)] == []


def test_the_example_inventory_passes_validation_with_its_defaults():
    """inventories/example as a user copies it (its hosts are not reachable here: the checks
    run on this machine in their name) validates, building the images: the tested path."""
    run = run_playbook('playbooks/validate.yml', {'ansible_connection': 'local',
                                                  'ansible_python_interpreter': sys.executable},
                       inventory=os.path.join(ROOT, 'inventories', 'example'))
    assert run.rc == 0, run.explain()
    hosts = [host for host in run.report['stats'] if host != 'localhost']
    assert len(hosts) >= 3, run.report['stats']
    for host in hosts:
        assert run.stats(host).get('changed', 0) == 0, run.changed_tasks(host)
    with open(os.path.join(ROOT, 'inventories', 'example', 'group_vars', 'all.yml')) as handle:
        assert yaml.safe_load(handle)['kargo_image_source'] == 'build'


# --- the argument specs, enforced by playbooks/validate.yml (plugin validate_settings) ----

def spec_options(role):
    with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


VALIDATED_ROLES = ('common', 'images', 'host', 'docker', 'swarm', 'registry', 'postgis', 'qgis_server', 'mapproxy',
                   'tileserver_gl', 'geoserver', 'proxy', 'backup')
# a value of another type than each spec type, and one outside the choices
WRONG_TYPE = {'str': ['a', 'list'], 'path': {'a': 'dict'}, 'int': 'twelve', 'float': 'ten days', 'bool': 'maybe',
              'list': 'one, two', 'dict': ['not', 'a', 'dict']}
OUTSIDE = {'str': 'not-a-choice', 'int': 999999, 'list': ['not-a-choice']}


def validate(settings):
    return run_playbook('playbooks/validate.yml', dict(SETTINGS, **settings))


def spec_errors(run):
    return [error for _name, result in run.task_results() for error in result.get('errors', [])]


@pytest.mark.parametrize('wrong', ['type', 'choices'])
def test_every_setting_of_every_spec_is_enforced_naming_it(wrong):
    """Generated from the specs: every setting (every one with choices) given a wrong value at
    once; each is named in the errors and nothing is changed."""
    networks = sorted(n.name for n in engine().networks.list())
    settings = {}
    for role in VALIDATED_ROLES:
        for name, option in spec_options(role).items():
            if wrong == 'type' and option['type'] != 'raw':
                settings[name] = WRONG_TYPE[option['type']]
            elif wrong == 'choices' and 'choices' in option:
                settings[name] = OUTSIDE[option['type']]
    run = validate(settings)
    assert run.rc != 0
    errors = spec_errors(run)
    named = set(error.split(':', 1)[0] for error in errors)
    assert sorted(set(settings) - named) == [], errors
    assert run.stats().get('changed', 0) == 0
    assert sorted(n.name for n in engine().networks.list()) == networks


# settings that passed validation before the argument specs were enforced, with their error
PASSED_BEFORE = [
    ({'kargo_mode': 'kubernetes'}, 'kargo_mode: kubernetes is not one of compose, swarm'),
    ({'kargo_prefix': 'Bad Prefix'}, 'kargo_prefix: "Bad Prefix" must be lower case letters, digits, - and _'),
    ({'kargo_db_name': 'gis; drop'}, 'kargo_db_name: "gis; drop" must be a plain identifier'),
    ({'proxy_tls_certificate_file': '/etc/hostname'}, 'proxy_tls_certificate_file: /etc/hostname is not a PEM certificate'),
    ({'proxy_tls_key_file': '/etc/hostname'}, 'proxy_tls_key_file: /etc/hostname is not a PEM private key'),
    ({'kargo_services': 'postgis'}, 'kargo_services: postgis must be a list of strings'),
    ({'kargo_hostname': 'bad host'}, 'kargo_hostname: "bad host" must be a host name'),
    # host_firewall_public_tcp_ports is made from it (in a list): not reported
    ({'host_ssh_port': 'x'}, 'host_ssh_port: x must be a whole number'),
]


def test_settings_that_passed_validation_before_are_named():
    """All at once (each is reported), each named as the user wrote it, never through a
    setting made from it (kargo_public_url, qgis_server_service_url... from kargo_hostname)."""
    settings = {}
    for row, _message in PASSED_BEFORE:
        settings.update(row)
    run = validate(settings)
    assert run.rc != 0
    errors = spec_errors(run)
    print('\n' + '\n'.join(errors))
    for _row, message in PASSED_BEFORE:
        assert [error for error in errors if error.startswith(message)], (message, errors)
    assert sorted(set(error.split(':', 1)[0] for error in errors)) == sorted(settings), errors


def test_a_key_that_does_not_match_the_certificate_is_named(tmp_path):
    files = {}
    for name in ('one', 'two'):
        made = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                               '-nodes', '-days', '1', '-subj', '/CN=%s' % name, '-keyout', str(tmp_path / (name + '.key')),
                               '-out', str(tmp_path / (name + '.crt'))], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        files[name] = (str(tmp_path / (name + '.crt')), str(tmp_path / (name + '.key')))
    run = validate({'proxy_tls_certificate_file': files['one'][0], 'proxy_tls_key_file': files['two'][1]})
    assert run.rc != 0
    assert spec_errors(run) == ['proxy_tls_key_file: %s does not match the certificate of proxy_tls_certificate_file (%s)'
                                % (files['two'][1], files['one'][0])]
    matching = validate({'proxy_tls_certificate_file': files['one'][0], 'proxy_tls_key_file': files['one'][1]})
    assert matching.rc == 0, matching.explain()
