"""Wrong settings stop site.yml before anything is built or deployed, naming the setting."""
import pytest

from kargo_testlib import engine, run_playbook

PREFIX = 'kargo-bad'
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': '/tmp/kargo-bad', 'kargo_secrets_dir': '/tmp/kargo-bad-secrets'}


@pytest.mark.parametrize('settings, message', [
    ({'kargo_services': ['postgis', 'mapserver']},
     'kargo_services: unknown service(s) mapserver; known services are postgis, qgis_server'),
    ({'kargo_https_port': 70000}, 'kargo_https_port: 70000 is not a port number (1-65535)'),
    ({'kargo_http_port': 0}, 'kargo_http_port: 0 is not a port number (1-65535)'),
    ({'postgis_publish_port': 65536}, 'postgis_publish_port: 65536 is not a port number (1-65535)'),
    ({'proxy_tls_certificate_file': '/nonexistent/kargo.crt', 'proxy_tls_key_file': '/nonexistent/kargo.key'},
     'proxy_tls_certificate_file: /nonexistent/kargo.crt does not exist'),
    ({'qgis_server_processes': 0}, 'qgis_server_processes: 0 is not a number of processes (1-64)'),
    ({'mapproxy_seed_max_level': 25}, 'mapproxy_seed_max_level: 25 is not a zoom level, must be between 0 and 20'),
    ({'tileserver_gl_max_zoom': 15}, 'tileserver_gl_max_zoom: 15 is not a zoom level, must be between 0 and 14'),
], ids=['unknown-service', 'https-port-too-high', 'http-port-zero', 'postgis-port-too-high', 'missing-certificate',
        'qgis-processes-zero', 'mapproxy-seed-level-too-high', 'tileserver-zoom-too-high'])
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
