"""Role registry through playbooks/images.yml, on a lab of real hosts reached over SSH
(containers acting as hosts, playbooks/lab.yml): the builder (this machine) builds the
registry image, the registry runs on node1 with TLS from a CA made on the controller,
every node and the builder trust that CA, the builder pushes the enabled services'
images, a worker pulls them; a second run changes nothing; a CA of the user's works;
bad settings fail before anything changes, naming the setting."""
import json
import os
import shutil
import ssl
import stat
import subprocess
import urllib.error
import urllib.request

import docker
import pytest

from kargo_testlib import engine, fresh_lab, run_playbook

# our own lab: other labs (10.77, 10.78) and stacks share this engine
LAB = {'lab_prefix': 'kargo-reglab', 'lab_subnet': '10.79.0.0/24', 'lab_workers': 1,
       'lab_inventory_dir': '/tmp/kargo-reglab'}
INVENTORY = '/tmp/kargo-reglab/hosts.yml'
NODE1, NODE2 = 'kargo-reglab-node1', 'kargo-reglab-node2'
HOSTS = ('localhost', 'node1', 'node2')
REGISTRY = '10.79.0.10:5000'
GATEWAY = '10.79.0.1'
SECRETS = '/tmp/kargo-reglab/.secrets/registry'
CERTS_D = '/etc/docker/certs.d/' + REGISTRY
ROOT_DIR = '/tmp/kargo-reglab-root'
USER_CA_DIR = '/tmp/kargo-reglab-userca'
USER_CA_PASSPHRASE = 'reglab-passphrase-not-for-logs'
# small and fast: the proxy image only (built here already when the stack tests ran)
SETTINGS = {
    'kargo_services': ['proxy'],
    'kargo_sample_data': False,
    'kargo_root': ROOT_DIR,
    # the same build inputs as inventories/local: the shared images are up to date, not rebuilt
    'images_extra_ca_files': ['/etc/ssl/certs/ca-certificates.crt'],
}
PUSHED = 'geostack-kargo/proxy:0.1.0'
REGISTRY_IMAGE = 'geostack-kargo/registry:0.1.0'
PROJECT = 'kargo-registry'


def images(**more):
    return run_playbook('playbooks/images.yml', dict(SETTINGS, **more), inventory=INVENTORY)


def node(container, *command, check=True):
    """Run a command inside a lab node (its own engine, its own files)."""
    completed = subprocess.run(['docker', 'exec', container] + list(command), capture_output=True, text=True)
    if check:
        assert completed.returncode == 0, (command, completed.stdout, completed.stderr)
    return completed


def registry_container(container=NODE1):
    ids = node(container, 'docker', 'ps', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT).stdout.split()
    assert len(ids) == 1, ids
    return json.loads(node(container, 'docker', 'inspect', ids[0]).stdout)[0]


def https(path, cafile):
    context = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen('https://%s%s' % (REGISTRY, path), context=context, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def read(path):
    with open(path) as handle:
        return handle.read()


def private_line(path):
    """The first base64 line of a PEM EC key made by the role: it holds the private value
    (the last lines hold the public point, which certificates and key infos show)."""
    return [line for line in read(path).splitlines() if line and not line.startswith('-----')][0]


def assert_nothing_changed(run):
    for host in HOSTS:
        assert run.stats(host).get('changed', 0) == 0, (host, run.changed_tasks(host))


@pytest.fixture(scope='module', autouse=True)
def lab():
    """A fresh lab (node1 manager, node2 worker) with started engines; removed at the end."""
    def clean():
        shutil.rmtree(os.path.join(LAB['lab_inventory_dir'], '.secrets'), ignore_errors=True)
        shutil.rmtree(CERTS_D, ignore_errors=True)
        shutil.rmtree(ROOT_DIR, ignore_errors=True)
        shutil.rmtree(USER_CA_DIR, ignore_errors=True)

    clean()
    try:
        with fresh_lab(LAB):
            # the registry needs the engines only, not the swarm (compose mode skips the swarm play);
            # this machine, the builder, pushes through the lab's gateway
            started = run_playbook('playbooks/infrastructure.yml',
                                   {'kargo_mode': 'compose', 'host_firewall_trusted_sources': [GATEWAY]},
                                   inventory=INVENTORY)
            assert started.rc == 0, started.explain()
            yield
    finally:  # also when the set-up failed: no lab or tag left behind
        # our own tags only: the images keep their geostack-kargo/* tags
        for image in engine().images.list():
            for tag in image.tags:
                if tag.startswith(REGISTRY + '/') and len(image.tags) > 1:
                    engine().images.remove(tag, noprune=True)
        clean()


@pytest.fixture(scope='module')
def first_run():
    run = images()
    assert run.rc == 0, run.explain()
    print('\nimages.yml on the lab, first run: %.1f s' % run.seconds)
    return run


@pytest.fixture(scope='module')
def second_run(first_run):
    before = registry_container()['Id']
    run = images()
    assert run.rc == 0, run.explain()
    print('\nimages.yml on the lab, second run: %.1f s' % run.seconds)
    run.registry_before, run.registry_after = before, registry_container()['Id']
    return run


def test_the_registry_answers_with_a_certificate_of_its_ca(first_run):
    status, _headers, _body = https('/v2/', os.path.join(SECRETS, 'ca.crt'))
    assert status == 200
    # TLS really is on, with a certificate this machine's default CAs do not vouch for
    with pytest.raises(urllib.error.URLError) as error:
        https('/v2/', None)
    assert isinstance(error.value.reason, ssl.SSLCertVerificationError)


def test_every_engine_trusts_the_ca(first_run):
    ca = read(os.path.join(SECRETS, 'ca.crt'))
    assert read(os.path.join(CERTS_D, 'ca.crt')) == ca
    for container in (NODE1, NODE2):
        assert node(container, 'cat', CERTS_D + '/ca.crt').stdout == ca
    # a node's own TLS client, with the file its engine reads
    answer = node(NODE2, 'python3', '-c', (
        'import json, ssl, urllib.request\n'
        'context = ssl.create_default_context(cafile="%s/ca.crt")\n'
        'print(json.load(urllib.request.urlopen("https://%s/v2/_catalog", context=context, timeout=10)))'
    ) % (CERTS_D, REGISTRY)).stdout
    assert "'geostack-kargo/proxy'" in answer


def test_the_pushed_image_is_in_the_registry_with_the_local_digest(first_run):
    cafile = os.path.join(SECRETS, 'ca.crt')
    assert 'geostack-kargo/proxy' in json.loads(https('/v2/_catalog', cafile)[2])['repositories']
    assert '0.1.0' in json.loads(https('/v2/geostack-kargo/proxy/tags/list', cafile)[2])['tags']
    request = urllib.request.Request(
        'https://%s/v2/geostack-kargo/proxy/manifests/0.1.0' % REGISTRY, method='HEAD',
        headers={'Accept': 'application/vnd.docker.distribution.manifest.v2+json'})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=cafile), timeout=10) as response:
        digest = response.headers['Docker-Content-Digest']
    assert '%s/geostack-kargo/proxy@%s' % (REGISTRY, digest) in engine().images.get(PUSHED).attrs['RepoDigests']


def test_the_push_says_which_image_it_pushes(first_run):
    said = [m for m in first_run.messages() if m.startswith('Pushing ')]
    assert len(said) == 1, said
    assert said[0].startswith('Pushing %s (' % PUSHED) and said[0].endswith(' MB) as %s/%s' % (REGISTRY, PUSHED))
    assert any(name.endswith('pushing %s/%s' % (REGISTRY, PUSHED)) for name in first_run.changed_tasks())


def test_a_worker_pulls_the_image_from_the_registry(first_run):
    node(NODE2, 'docker', 'pull', '%s/%s' % (REGISTRY, PUSHED))
    pulled = node(NODE2, 'docker', 'image', 'inspect', '--format', '{{.Id}}', '%s/%s' % (REGISTRY, PUSHED)).stdout.strip()
    assert pulled == engine().images.get(PUSHED).id


def test_the_registry_runs_on_node1_as_asked(first_run):
    container = registry_container()
    assert container['State']['Health']['Status'] == 'healthy'
    assert container['HostConfig']['RestartPolicy']['Name'] == 'always'
    assert container['HostConfig']['PortBindings']['5000/tcp'][0]['HostPort'] == '5000'
    volumes = [m for m in container['Mounts'] if m['Type'] == 'volume']
    assert [(m['Name'], m['Destination']) for m in volumes] == [('kargo-registry-data', '/var/lib/docker-registry')]
    # the image reached node1 with docker save / load: the builder's image, same ID
    assert container['Image'] == engine().images.get(REGISTRY_IMAGE).id
    key = node(NODE1, 'stat', '-c', '%u %a', ROOT_DIR + '/registry/registry.key').stdout.split()
    assert key == ['1000', '400']
    # the registry serves the certificate made for its address, signed by the CA
    served = node(NODE1, 'cat', ROOT_DIR + '/registry/registry.crt').stdout
    assert served == read(os.path.join(SECRETS, 'registry.crt'))


def test_the_keys_stay_private(first_run):
    assert stat.S_IMODE(os.stat(SECRETS).st_mode) == 0o700
    assert 'PRIVATE KEY' not in first_run.stdout + first_run.stderr
    for name in ('ca.key', 'registry.key'):
        assert stat.S_IMODE(os.stat(os.path.join(SECRETS, name)).st_mode) == 0o600
        assert 'EC PRIVATE KEY' in read(os.path.join(SECRETS, name))
        secret = private_line(os.path.join(SECRETS, name))
        assert secret not in first_run.stdout and secret not in first_run.stderr, name


def test_a_second_run_changes_nothing(second_run):
    assert_nothing_changed(second_run)
    assert not [m for m in second_run.messages() if m.startswith('Pushing ')]
    assert '%s/%s is in the registry already (same digest): not pushed' % (REGISTRY, PUSHED) in second_run.messages()
    assert second_run.registry_after == second_run.registry_before


@pytest.mark.parametrize('settings, message', [
    ({'kargo_registry_port': 70000}, 'kargo_registry_port: 70000 is not a port number, must be between 1 and 65535'),
    ({'registry_push_parallel': 0}, 'registry_push_parallel: 0 is not a number of pushes at once, must be between 1 and 16'),
    ({'registry_ca_cert': '/nonexistent/ca.crt', 'registry_ca_key': '/nonexistent/ca.key'},
     'registry_ca_cert: /nonexistent/ca.crt does not exist on the controller'),
    ({'registry_ca_cert': SECRETS + '/registry.crt', 'registry_ca_key': SECRETS + '/registry.key'},
     'registry_ca_cert: %s/registry.crt is not a valid CA certificate' % SECRETS),
    ({'registry_ca_cert': SECRETS + '/ca.crt', 'registry_ca_key': SECRETS + '/registry.key'},
     'registry_ca_key: %s/registry.key is not the private key of registry_ca_cert' % SECRETS),
], ids=['port-out-of-range', 'pushes-at-once-zero', 'missing-user-ca', 'not-a-ca', 'key-of-another-certificate'])
def test_bad_settings_fail_before_anything_changes(second_run, settings, message):
    container = registry_container()['Id']
    run = images(**settings)
    assert run.rc != 0
    failures = [m for host in HOSTS for m in run.failure_messages(host)]
    assert any(message in m for m in failures), failures
    assert_nothing_changed(run)
    # stopped in the first play: nothing was built, copied or deployed
    assert [play['play']['name'] for play in run.report['plays']] == ['Check the registry settings before anything is built']
    assert registry_container()['Id'] == container


@pytest.fixture(scope='module')
def user_ca(second_run):
    """A CA of the user's (encrypted key), then images.yml twice with it."""
    os.makedirs(USER_CA_DIR, exist_ok=True)
    subprocess.run([
        'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-days', '30', '-subj', '/CN=kargo reglab user CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', USER_CA_DIR + '/ca.key', '-out', USER_CA_DIR + '/ca.crt', '-passout', 'pass:' + USER_CA_PASSPHRASE,
    ], check=True, capture_output=True)
    settings = {'registry_ca_cert': USER_CA_DIR + '/ca.crt', 'registry_ca_key': USER_CA_DIR + '/ca.key',
                'registry_ca_key_passphrase': USER_CA_PASSPHRASE}
    first = images(**settings)
    assert first.rc == 0, first.explain()
    again = images(**settings)
    assert again.rc == 0, again.explain()
    return first, again


def test_a_user_ca_signs_the_registry_certificate(user_ca):
    first, again = user_ca
    user_ca_file = USER_CA_DIR + '/ca.crt'
    assert https('/v2/', user_ca_file)[0] == 200
    # no longer the CA the role made
    with pytest.raises(urllib.error.URLError):
        https('/v2/', os.path.join(SECRETS, 'ca.crt'))
    assert read(os.path.join(CERTS_D, 'ca.crt')) == read(user_ca_file)
    for container in (NODE1, NODE2):
        assert node(container, 'cat', CERTS_D + '/ca.crt').stdout == read(user_ca_file)
    # the worker's engine talks to the registry through the new certificate
    node(NODE2, 'docker', 'pull', '%s/%s' % (REGISTRY, PUSHED))
    for run in (first, again):
        assert USER_CA_PASSPHRASE not in run.stdout and USER_CA_PASSPHRASE not in run.stderr
    assert first.stats('node1').get('changed', 0) > 0
    assert_nothing_changed(again)
