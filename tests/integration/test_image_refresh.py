"""Security updates of the images built here (images_max_age_days, images_refresh): a base
image older than the setting is made again, the image built on it is rebuilt and the
service running it recreated; a run within the age builds nothing; images_refresh=true
rebuilds now, and check mode says so in the deploy's plan without building anything.

Its own image namespace (a base of its own: the other tests' images are not touched),
prefix and ports; only the proxy is deployed (it needs no other service). On that small
stack also: a certificate of yours, renewed, is planned by check mode like a setting."""
import shutil
import time

import pytest
import requests

from kargo_testlib import build_images, built_names, container_ids, engine, run_playbook
from load_runs import LoadDuring
from stack_checks import certificate_settings, serves_certificate

NAMESPACE = 'kargo-test-refresh'
PREFIX = 'kargo-test-refresh'
ROOT_DIR = '/tmp/kargo-test-refresh'
SETTINGS = {
    'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
    'kargo_build_namespace': NAMESPACE, 'kargo_services': ['proxy'], 'kargo_sample_data': False,
    'kargo_http_port': 18180, 'kargo_https_port': 18543,
}
BASE_IMAGE = NAMESPACE + '/debian:trixie'
PROXY_IMAGE = NAMESPACE + '/proxy:0.1.0'
PROJECT = PREFIX + '-proxy'
# seconds, as days: the base made by the first run is older than this by the second
SHORT_AGE_DAYS = 20 / 86400.0


def site(*options, **more):
    return run_playbook('site.yml', dict(SETTINGS, **more), options=options)


def image_id(name):
    return engine().images.get(name).id


def remove_everything():
    run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    # by name: the base starts as a tag of the shared base image, which must stay
    for name in (PROXY_IMAGE, BASE_IMAGE):
        if engine().images.list(name=name):
            engine().images.remove(name, force=True)
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    shutil.rmtree(ROOT_DIR + '-secrets', ignore_errors=True)


@pytest.fixture(scope='module')
def deployed():
    remove_everything()
    # its base starts as a copy of the shared one (built once for every test, a no-op when
    # there): only the refreshes below run debootstrap
    build_images(['proxy'])
    engine().images.get(built_names()['base']).tag(BASE_IMAGE)
    try:
        first = site()
        assert first.rc == 0, first.explain()
        yield first
    finally:
        remove_everything()


def test_a_base_older_than_the_setting_is_made_again_and_the_service_recreated(deployed):
    base, proxy, container = image_id(BASE_IMAGE), image_id(PROXY_IMAGE), container_ids(PROJECT)['proxy']
    time.sleep(max(0.0, SHORT_AGE_DAYS * 86400 + 1 - deployed.seconds))
    aged = site(images_max_age_days=SHORT_AGE_DAYS)
    assert aged.rc == 0, aged.explain()
    said = aged.messages()
    print('\n' + '\n'.join(m for m in said if m.startswith(('Making the base', 'Building '))))
    assert [m for m in said if m.startswith('Making the base image %s (made ' % BASE_IMAGE)
            and 'older than images_max_age_days (0.000231481)' in m
            and 'every image built on it is rebuilt from current packages' in m], said
    assert [m for m in said if m.startswith('Building %s ' % PROXY_IMAGE)
            and 'why: its base image was made again (made ' in m], said
    assert image_id(BASE_IMAGE) != base and image_id(PROXY_IMAGE) != proxy
    assert container_ids(PROJECT)['proxy'] != container
    assert engine().containers.get(container_ids(PROJECT)['proxy']).image.id == image_id(PROXY_IMAGE)


def test_within_the_age_nothing_is_built_or_changed(deployed):
    base, proxy = image_id(BASE_IMAGE), image_id(PROXY_IMAGE)
    again = site()
    assert again.rc == 0, again.explain()
    assert again.stats()['changed'] == 0, again.changed_tasks()
    assert '%s is up to date (build hash ' % PROXY_IMAGE in ' '.join(again.messages())
    assert (image_id(BASE_IMAGE), image_id(PROXY_IMAGE)) == (base, proxy)


def test_images_refresh_is_planned_in_check_mode_then_rebuilds(deployed):
    base, proxy, container = image_id(BASE_IMAGE), image_id(PROXY_IMAGE), container_ids(PROJECT)['proxy']
    checked = site('--check', '--diff', images_refresh=True)
    assert checked.rc == 0, checked.explain()
    assert checked.deploy_plans()[0][PROJECT] == [('proxy', 'recreate', ['image changed'])]
    assert (image_id(BASE_IMAGE), image_id(PROXY_IMAGE), container_ids(PROJECT)['proxy']) == (base, proxy, container)

    refreshed = site(images_refresh=True)
    assert refreshed.rc == 0, refreshed.explain()
    assert 'Making the base image %s (asked for (images_refresh)' % BASE_IMAGE in ' '.join(refreshed.messages())
    assert refreshed.deploy_plans()[0][PROJECT] == [('proxy', 'recreate', ['image changed'])]
    assert image_id(BASE_IMAGE) != base and image_id(PROXY_IMAGE) != proxy
    assert container_ids(PROJECT)['proxy'] != container



def served_is(path):
    return serves_certificate('localhost', SETTINGS['kargo_https_port'], open(path).read())


def test_a_new_certificate_of_yours_is_applied_by_an_nginx_reload_with_no_failed_request(deployed, tmp_path):
    """Certificate and key are read by nginx from a mounted folder: a new one is copied
    there and applied by reloading nginx in the running container (no new container), while
    wrk asks for the landing page (64 connections, a connection per request); check mode
    plans no new container; a re-run changes nothing."""
    first = certificate_settings(tmp_path, 'first')
    switched = site(**first)
    assert switched.rc == 0, switched.explain()
    container = container_ids(PROJECT)['proxy']
    assert served_is(first['proxy_tls_certificate_file'])
    renewed = certificate_settings(tmp_path, 'renewed')
    checked = site('--check', '--diff', **renewed)
    assert checked.rc == 0, checked.explain()
    assert checked.deploy_plans()[0][PROJECT] == [('proxy', 'unchanged', [])]
    with LoadDuring('https://localhost:%d/' % SETTINGS['kargo_https_port'], connections=64,
                    new_connections=True) as load:
        applied = site(**renewed)
    assert applied.rc == 0, applied.explain()
    print('\nwrk during the nginx reload: %(requests)d requests in %(seconds).0f s, p99 %(p99_ms).0f ms, '
          '%(failed)d failed %(errors)s' % load.report)
    assert load.report['requests'] > 0 and load.report['failed'] == 0, load.report
    assert 'geostack.kargo.proxy : proxy | reload nginx where its settings changed' in applied.changed_tasks()
    assert container_ids(PROJECT)['proxy'] == container
    assert served_is(renewed['proxy_tls_certificate_file'])
    again = site(**renewed)
    assert again.rc == 0, again.explain()
    assert again.stats()['changed'] == 0, again.changed_tasks()


def test_settings_nginx_refuses_fail_the_run_and_the_running_ones_keep_serving(deployed):
    """A resolver nginx cannot find passes the settings' checks but not nginx's: the run
    fails with nginx's message, the proxy keeps serving with what it had, in the same
    container; the next good run applies its settings with a reload."""
    container = container_ids(PROJECT)['proxy']
    refused = site(proxy_resolver='no-such-resolver.invalid')
    assert refused.rc != 0
    said = ' '.join(refused.messages())
    assert "the proxy's new settings were not applied" in said and 'host not found in resolver' in said, said[-2000:]
    assert requests.get('https://localhost:%d/' % SETTINGS['kargo_https_port'], verify=False, timeout=10).status_code == 200
    assert container_ids(PROJECT)['proxy'] == container
    restored = site()
    assert restored.rc == 0, restored.explain()
    assert 'geostack.kargo.proxy : proxy | reload nginx where its settings changed' in restored.changed_tasks()
    assert container_ids(PROJECT)['proxy'] == container
