"""A stopped replica drains: the images of the services that roll start-first in swarm
mode (QGIS Server, MapProxy, TileServer GL) go on answering for their drain time after
SIGTERM (`docker stop`), then stop cleanly; without a drain time they stop at once.
Swarm mode sets the drain time (kargo_drain_seconds); the rolling update under load that
needs it is tested on the lab (test_lab.py)."""
import json
import subprocess
import threading
import time
import urllib.request

import pytest

from kargo_testlib import built_names, engine

DRAIN_SECONDS = 4
MAPPROXY_CONFIG = """services:
  demo:
layers:
  - name: nothing
    title: nothing
    sources: []
"""
# the command each image answers on 8080 with (none: the image's own), the files it
# needs, and the path asked
IMAGES = {
    'qgis_server': dict(command=[], files={}, env='QGIS_SERVER_DRAIN_SECONDS', path='/healthz'),
    'mapproxy': dict(command=[], files={'/mapproxy/mapproxy.yaml': MAPPROXY_CONFIG},
                     env='MAPPROXY_DRAIN_SECONDS', path='/demo/'),
    'tileserver_gl': dict(command=['--config', '/kargo/config.json', '--port', '8080'],
                          files={'/kargo/config.json': json.dumps({'options': {}, 'data': {}})},
                          env='TILESERVER_DRAIN_SECONDS', path='/health'),
}


def answers(container, image):
    """Whether the container answers on its address, asked from here: a `docker exec` of a
    client took seconds on a busy machine, more than the drain time (a cold make test
    failed so, asking TileServer GL 1.5 s after SIGTERM)."""
    container.reload()
    address = container.attrs['NetworkSettings']['IPAddress']
    try:
        with urllib.request.urlopen('http://%s:8080%s' % (address, image['path']), timeout=3) as answer:
            return answer.status == 200
    except (OSError, ValueError):
        return False


def started(service, drain, tmp_path):
    image = IMAGES[service]
    mounts = []
    for number, (target, content) in enumerate(sorted(image['files'].items())):
        source = tmp_path / ('file%d' % number)
        source.write_text(content)
        source.chmod(0o644)
        mounts.append('%s:%s:ro' % (source, target))
    container = engine().containers.run(built_names()[service], image['command'], detach=True,
                                        environment={image['env']: str(drain)}, volumes=mounts,
                                        labels={'org.geostack.kargo.test': 'drain'})
    deadline = time.time() + 120
    while not answers(container, image):
        container.reload()
        assert container.status == 'running' and time.time() < deadline, container.logs()[-2000:].decode()
        time.sleep(1)
    return container


@pytest.fixture
def containers():
    made = []
    yield made
    for container in made:
        container.remove(force=True)


@pytest.mark.parametrize('service', sorted(IMAGES))
def test_a_stopped_replica_answers_for_its_drain_time_then_stops_cleanly(service, containers, tmp_path):
    container = started(service, DRAIN_SECONDS, tmp_path)
    containers.append(container)
    stopped = {}
    began = time.time()
    stopping = threading.Thread(target=lambda: stopped.update(rc=subprocess.run(
        ['docker', 'stop', '-t', '60', container.id], capture_output=True).returncode, at=time.time()))
    stopping.start()
    time.sleep(1.5)
    assert answers(container, IMAGES[service]), 'no answer %s s after SIGTERM, while draining' % 1.5
    stopping.join(90)
    seconds = stopped['at'] - began
    container.reload()
    logs = container.logs().decode('utf-8', 'replace')
    print('\n%s: stopped %.1f s after SIGTERM (drain %d s), exit code %d'
          % (service, seconds, DRAIN_SECONDS, container.attrs['State']['ExitCode']))
    assert DRAIN_SECONDS <= seconds < DRAIN_SECONDS + 30, (seconds, logs[-2000:])
    assert container.attrs['State']['ExitCode'] == 0, logs[-2000:]
    assert 'serving %d s more' % DRAIN_SECONDS in logs, logs[-2000:]


@pytest.mark.parametrize('service', sorted(IMAGES))
def test_without_a_drain_time_a_replica_stops_at_once(service, containers, tmp_path):
    container = started(service, 0, tmp_path)
    containers.append(container)
    began = time.time()
    container.stop(timeout=60)
    seconds = time.time() - began
    container.reload()
    assert seconds < DRAIN_SECONDS, seconds
    assert container.attrs['State']['ExitCode'] == 0, container.logs()[-2000:]


def test_a_drain_time_that_is_not_a_number_is_refused_naming_the_variable(containers, tmp_path):
    for service in sorted(IMAGES):
        image = IMAGES[service]
        done = subprocess.run(['docker', 'run', '--rm', '-e', image['env'] + '=soon', built_names()[service]] + image['command'],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "%s must be a whole number, not 'soon'" % image['env'] in done.stderr, done.stderr
