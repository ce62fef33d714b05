"""The multi-host stack, through the Molecule scenario molecule/lab (create = three bare
lab nodes: docker-in-docker containers reached over SSH; converge = site.yml; idempotence;
verify; destroy): site.yml takes the bare nodes to a swarm running every service across
them, with its registry; then the same end-to-end checks as on one host, through the
proxy on the manager. Tests run in file order: bad inventories first (on the bare nodes:
nothing may be left behind), then the deployment, its placement, a no-op re-run, faults."""
import contextlib
import gzip
import json
import os
import subprocess
import sys
import time

import mapbox_vector_tile
import pytest
import requests
import yaml

from kargo_testlib import ROOT, built_names, run_playbook
from load_runs import LoadDuring
from stack_checks import (
    EVERY_CHECK, GETMAP_256, certificate_settings, check_landing_redirect_and_headers, get, png_variance, qgis_wms,
    serves_certificate, tile_xy)

with open(os.path.join(ROOT, 'molecule', 'lab', 'settings.yml')) as settings_file:
    SETTINGS = yaml.safe_load(settings_file)
LAB = SETTINGS['lab_prefix']
INVENTORY_DIR = SETTINGS['lab_inventory_dir']
INVENTORY = INVENTORY_DIR + '/hosts.yml'
MANAGER_IP = SETTINGS['kargo_hostname']
BASE = 'https://' + MANAGER_IP
# node1: manager; node2: worker labelled kargo.postgis=true; node3: worker labelled
# kargo.backup_repository=true (molecule/lab/settings.yml)
NODES = ('node1', 'node2', 'node3')
STACKS = ('postgis', 'backup', 'backup-repository', 'qgis-server', 'mapproxy', 'tileserver-gl', 'proxy')
REPLICATED = ('qgis-server_qgis-server', 'mapproxy_mapproxy', 'tileserver-gl_tileserver-gl')
WMTS_TILE = '/mapproxy/wmts/countries/webmercator/2/2/1.png'


def molecule(action):
    """`molecule <action> -s lab` from the repository root; (completed process, seconds)."""
    env = dict(os.environ, PATH=os.path.join(sys.prefix, 'bin') + os.pathsep + os.environ['PATH'])
    started = time.monotonic()
    done = subprocess.run([os.path.join(sys.prefix, 'bin', 'molecule'), action, '-s', 'lab'],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    return done, time.monotonic() - started


def molecule_ok(action):
    done, seconds = molecule(action)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return seconds


def on_node(node, *command, check=True):
    """Run a command inside a lab node (its own engine answers `docker` there)."""
    done = subprocess.run(['docker', 'exec', '%s-%s' % (LAB, node)] + list(command),
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done


def swarm_state(node):
    return on_node(node, 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}}').stdout.strip()


def service(name):
    return '%s-%s' % (LAB, name)


def services():
    """{service name: its inspect data} of every service of the stack, from the manager."""
    names = on_node('node1', 'docker', 'service', 'ls', '--format', '{{.Name}}').stdout.split()
    inspected = json.loads(on_node('node1', 'docker', 'service', 'inspect', *names).stdout) if names else []
    return dict((s['Spec']['Name'], s) for s in inspected)


def running_tasks(name):
    """Nodes of the running tasks of a service."""
    lines = on_node('node1', 'docker', 'service', 'ps', name, '--filter', 'desired-state=running',
                    '--format', '{{.Node}} {{.CurrentState}}').stdout.splitlines()
    return sorted(line.split()[0] for line in lines if ' Running ' in ' %s ' % line)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %d s waiting for %s' % (timeout, what))
        time.sleep(3)


def task_containers(node, name):
    """The ids of the running containers of swarm service `name` on `node`."""
    return on_node(node, 'docker', 'ps', '-q', '--filter', 'label=com.docker.swarm.service.name=' + name).stdout.split()


def proxy_log_since(started):
    """What the proxy's container on the manager logged since `started` (RFC 3339)."""
    container = task_containers('node1', service('proxy_proxy'))[0]
    done = on_node('node1', 'docker', 'logs', '--since', started, container)
    return (done.stdout + done.stderr).splitlines()


# the settings tests changed so far, in file order: the inventory as they left it, which
# each later site.yml run keeps (only what a test changes is updated then)
CHANGED_SETTINGS = {}


def site(inventory=INVENTORY, options=(), **more):
    return run_playbook('site.yml', dict(SETTINGS, **dict(CHANGED_SETTINGS, **more)), inventory=inventory, options=options)


def bad_inventory(tmp_path, change):
    """A copy of the lab inventory, changed by `change(inventory dict)`."""
    with open(INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    change(inventory['all']['children'])
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


@pytest.fixture(scope='module')
def lab():
    # a lab left by an earlier run goes, and so does Molecule's memory of it
    molecule('destroy')
    molecule_ok('reset')
    try:
        molecule_ok('create')
        yield
    finally:  # also when the set-up failed: no lab left behind
        if not os.environ.get('KARGO_KEEP_LAB'):
            molecule_ok('destroy')


def assert_nothing_done():
    """The bare nodes are as the lab made them: no swarm, no engine started by site.yml."""
    for node in NODES:
        assert on_node(node, 'docker', 'info', check=False).returncode != 0 or swarm_state(node) == 'inactive', node


def test_an_even_number_of_managers_is_refused_before_anything(lab, tmp_path):
    def two_managers(groups):
        groups['managers']['hosts']['node3'] = groups['workers']['hosts'].pop('node3')
    run = site(inventory=bad_inventory(tmp_path, two_managers))
    assert run.rc != 0
    assert 'group managers has 2 hosts (node1, node3)' in run.stdout, run.explain()
    assert 'swarm_force_even_managers' in run.stdout
    assert_nothing_done()


def test_a_placement_label_no_node_has_is_refused_before_anything(lab):
    run = site(postgis_placement_constraints=['node.labels.kargo.nowhere == true'])
    assert run.rc != 0
    assert ('postgis_placement_constraints: \\"node.labels.kargo.nowhere == true\\" matches no node'
            in run.stdout), run.explain()
    assert_nothing_done()


def test_the_backup_repository_on_the_database_node_is_refused_before_anything(lab, tmp_path):
    def repository_beside_the_database(groups):
        groups['workers']['hosts']['node2']['kargo_node_labels']['kargo.backup_repository'] = 'true'
        groups['workers']['hosts']['node3'].pop('kargo_node_labels', None)
    run = site(inventory=bad_inventory(tmp_path, repository_beside_the_database))
    assert run.rc != 0
    assert ('kargo_node_labels: node2 carries kargo.backup_repository and kargo.postgis: the backups would be lost '
            'with the database' in run.stdout), run.explain()
    assert_nothing_done()


def test_an_unreachable_host_is_named_before_anything(lab, tmp_path):
    def lost_worker(groups):
        groups['workers']['hosts']['node9'] = {'ansible_host': '10.76.0.99'}
    run = run_playbook('site.yml', dict(SETTINGS), inventory=bad_inventory(tmp_path, lost_worker), timeout=300)
    assert run.rc != 0
    assert 'node9 (10.76.0.99) cannot be reached' in run.stdout, run.explain()
    assert_nothing_done()


@pytest.fixture(scope='module')
def deployed(lab):
    seconds = molecule_ok('converge')
    print('\nmolecule converge (site.yml) from bare lab nodes to the converged stack: %.1f s' % seconds)


def test_three_nodes_are_ready(deployed):
    lines = on_node('node1', 'docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}').stdout
    nodes = dict((line.split()[0], line.split()[1:]) for line in lines.splitlines())
    assert sorted(nodes) == list(NODES)
    assert all(state[0] == 'Ready' for state in nodes.values()), nodes
    assert nodes['node1'][1] == 'Leader'
    labels = json.loads(on_node('node1', 'docker', 'node', 'inspect', 'node2', '--format', '{{json .Spec.Labels}}').stdout)
    assert labels == {'kargo.postgis': 'true', 'kargo.geoserver': 'true'}
    labels = json.loads(on_node('node1', 'docker', 'node', 'inspect', 'node3', '--format', '{{json .Spec.Labels}}').stdout)
    assert labels == {'kargo.backup_repository': 'true'}


def test_the_registry_serves_the_images_over_tls(deployed):
    ca = INVENTORY_DIR + '/.secrets/registry/ca.crt'
    catalog = requests.get('https://%s:5000/v2/_catalog' % MANAGER_IP, verify=ca, timeout=30).json()
    assert 'geostack-kargo/qgis-server' in catalog['repositories'], catalog
    images = set(s['Spec']['TaskTemplate']['ContainerSpec']['Image'] for s in services().values())
    assert all(image.startswith('%s:5000/geostack-kargo/' % MANAGER_IP) for image in images), images


def test_every_stack_converged(deployed):
    assert sorted(services()) == sorted(service('%s_%s' % (name, name)) for name in STACKS)
    for name, spec in services().items():
        wanted = spec['Spec']['Mode'].get('Replicated', {}).get('Replicas', 1)
        assert len(running_tasks(name)) == wanted, (name, running_tasks(name))


def test_tasks_run_where_labels_and_constraints_say(deployed):
    assert running_tasks(service('postgis_postgis')) == ['node2']
    # the scheduled backups beside the database: kargo_backup_root is on its node
    assert running_tasks(service('backup_backup')) == ['node2']
    # pgBackRest's repository on another node than the database's
    assert running_tasks(service('backup-repository_backup-repository')) == ['node3']
    assert running_tasks(service('proxy_proxy')) == ['node1']
    for name in REPLICATED:
        nodes = running_tasks(service(name))
        assert len(nodes) == 2 and len(set(nodes)) == 2, (name, nodes)


def test_replicated_services_update_one_replica_at_a_time_watched_then_rolled_back_on_failure(deployed):
    """Each replicated service's update: one replica at a time, the new one started first,
    watched kargo_update_monitor_seconds (the lab's 10) before the next, rolled back when
    one fails."""
    for name in REPLICATED:
        update = services()[service(name)]['Spec']['UpdateConfig']
        assert (update['Parallelism'], update['Order'], update['FailureAction'], update['Monitor']) == \
            (1, 'start-first', 'rollback', SETTINGS['kargo_update_monitor_seconds'] * 10 ** 9), (name, update)


def test_the_services_answer_through_the_proxy(deployed):
    for check in EVERY_CHECK:
        check(BASE)
    check_landing_redirect_and_headers(BASE, 'http://' + MANAGER_IP)


def test_a_project_of_the_user_is_served_by_every_qgis_server_replica(deployed):
    """molecule/lab/projects/world.qgs (qgis_server_projects), copied to every node: the
    replica on each of its two nodes serves its PostGIS layer and its file layer, and the
    proxy serves it at /qgis/world/."""
    name = service('qgis-server_qgis-server')
    nodes = running_tasks(name)
    assert len(set(nodes)) == 2, nodes
    for node in nodes:
        capabilities = replica_get(node, name, '/world/?SERVICE=WMS&REQUEST=GetCapabilities').decode('utf-8')
        assert '<Name>countries_db</Name>' in capabilities and '<Name>places_file</Name>' in capabilities, (node, capabilities[:500])
    assert {'countries_db', 'places_file'} <= set(qgis_wms(BASE, '/qgis/world/').contents)
    answer = get(BASE, '/qgis/world/', params={'SERVICE': 'WFS', 'VERSION': '1.1.0', 'REQUEST': 'GetFeature',
                                               'TYPENAME': 'places_file', 'OUTPUTFORMAT': 'application/vnd.geo+json'})
    assert sorted(f['properties']['name'] for f in answer.json()['features']) == ['Kraków', 'Lyon']


# GET a URL, print the body, fail on an error: curl, or Node's fetch where there is no curl (TileServer GL)
CURL = ['curl', '-fsS']
NODE_FETCH = ['node', '-e', 'fetch(process.argv[1]).then(async answer => { if (!answer.ok) process.exit(1); '
              'process.stdout.write(Buffer.from(await answer.arrayBuffer())); }, () => process.exit(2))']


def replica_get(node, name, path, client=CURL):
    """The body of a GET of path from the task of service `name` on `node` (its own port)."""
    container = task_containers(node, name)[0]
    done = subprocess.run(['docker', 'exec', '%s-%s' % (LAB, node), 'docker', 'exec', container] + client
                          + ['http://127.0.0.1:8080' + path], capture_output=True, timeout=120)
    assert done.returncode == 0, (node, path, done.stderr)
    return done.stdout


def test_a_raster_dataset_is_a_cog_on_every_node_drawn_by_every_qgis_server_replica(deployed):
    """molecule/lab/projects/relief.asc (kargo_datasets, srs given): made a COG on the first
    manager, copied to every node; the replica on each of QGIS Server's two nodes draws it
    over Lyon and nothing elsewhere, and so does MapProxy's cached layer through the proxy."""
    cogs = dict((node, on_node(node, 'sh', '-c', 'ls /opt/kargo/datasets/rasters').stdout.split()) for node in NODES)
    assert all(len(found) == 1 and found[0].startswith('relief-') for found in cogs.values()), cogs
    assert len(set(found[0] for found in cogs.values())) == 1, cogs
    name = service('qgis-server_qgis-server')
    over = '/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=relief&STYLES=&CRS=EPSG:4326&WIDTH=128&HEIGHT=128' \
           '&FORMAT=image/png&TRANSPARENT=false&BBOX='
    for node in running_tasks(name):
        assert png_variance(replica_get(node, name, over + '45.70,4.80,45.80,4.90')) > 50, node
        assert png_variance(replica_get(node, name, over + '-10,-160,0,-150')) == 0, node
    x, y = tile_xy(4.85, 45.75, 12)
    tile = get(BASE, '/mapproxy/wmts/relief/webmercator/12/%d/%d.png' % (x, y))
    assert tile.status_code == 200 and png_variance(tile.content) > 50


def test_a_vector_dataset_is_served_by_every_replica_of_each_service(deployed):
    """molecule/lab/projects/places.geojson (kargo_datasets): loaded into the database on
    node2, its MBTiles copied to every node: each TileServer GL replica gives its vector
    tile, each QGIS Server replica its WFS features, and MapProxy's cached layer draws it
    through the proxy."""
    x, y = tile_xy(4.8357, 45.764, 6)
    tiles = service('tileserver-gl_tileserver-gl')
    for node in running_tasks(tiles):
        content = replica_get(node, tiles, '/data/places/6/%d/%d.pbf' % (x, y), client=NODE_FETCH)
        decoded = mapbox_vector_tile.decode(gzip.decompress(content) if content[:2] == b'\x1f\x8b' else content)
        assert [f['properties']['name'] for f in decoded['places']['features']] == ['Lyon'], (node, decoded)
    maps = service('qgis-server_qgis-server')
    for node in running_tasks(maps):
        features = json.loads(replica_get(node, maps, '/?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=places'
                                                      '&OUTPUTFORMAT=application/vnd.geo%2Bjson'))['features']
        assert sorted(f['properties']['name'] for f in features) == ['Krak\u00f3w', 'Lyon'], node
    x, y = tile_xy(4.8357, 45.764, 8)
    tile = get(BASE, '/mapproxy/wmts/places/webmercator/8/%d/%d.png' % (x, y))
    assert tile.status_code == 200 and png_variance(tile.content) > 0
    x, y = tile_xy(-150, -10, 8)
    assert png_variance(get(BASE, '/mapproxy/wmts/places/webmercator/8/%d/%d.png' % (x, y)).content) == 0


def mapproxy_seed_marks():
    """{node: {seed mark: what it was seeded for}} of the cache of each MapProxy replica (each
    node has its own cache volume): .kargo-seeded (the sample layer), .kargo-seeded-<dataset>."""
    name = service('mapproxy_mapproxy')
    marks = {}
    for node in running_tasks(name):
        read = on_node(node, 'docker', 'exec', task_containers(node, name)[0], 'sh', '-c',
                       'grep -H . /mapproxy/cache/.kargo-seeded*', check=False).stdout
        marks[node] = dict(line.rsplit('/', 1)[1].split(':', 1) for line in read.split())
    return marks


def test_the_cache_of_every_mapproxy_replica_is_seeded_on_its_node(deployed):
    marks = mapproxy_seed_marks()
    assert len(marks) == 2, marks
    for node, found in marks.items():
        assert sorted(found) == ['.kargo-seeded', '.kargo-seeded-places', '.kargo-seeded-relief'], (node, found)
    assert len(set(json.dumps(found, sort_keys=True) for found in marks.values())) == 1, marks


def test_the_database_password_is_a_secret_not_an_environment_variable(deployed):
    password = open(INVENTORY_DIR + '/.secrets/db_password').read().strip()
    inspected = json.dumps(services())
    assert password not in inspected
    assert 'db_password' in json.dumps(container_spec(service('postgis_postgis'))['Secrets'])


def test_a_second_run_changes_nothing_and_updates_no_service(deployed):
    versions = service_versions()
    # molecule idempotence: site.yml again, failing when any task on any host changed
    seconds = molecule_ok('idempotence')
    print('\nmolecule idempotence (no-op site.yml on 3 nodes): %.1f s' % seconds)
    assert service_versions() == versions


def test_molecule_verify_passes(deployed):
    molecule_ok('verify')


def service_versions():
    return dict((name, s['Version']['Index']) for name, s in services().items())


def manager_now():
    """The manager's UTC time (RFC 3339), for its proxy's log since then."""
    return on_node('node1', 'date', '-u', '+%Y-%m-%dT%H:%M:%SZ').stdout.strip()


def container_spec(name):
    """The ContainerSpec of swarm service `name` (its image, its environment)."""
    return services()[name]['Spec']['TaskTemplate']['ContainerSpec']


def assert_no_request_waited_for_a_gone_replica(started):
    # a replica that stopped is refused at once and the next one asked; one that is gone
    # (its address still in the proxy's DNS answer) would make every request wait 2 s
    waited = [line for line in proxy_log_since(started) if 'timed out' in line and 'while connecting' in line]
    assert not waited, waited[:3]


# what wrk asks the proxy for while an update rolls, per service: a tile of MapProxy, a
# GetMap of QGIS Server, a vector tile of TileServer GL; paced (connections, ms between a
# connection's requests): a steady stream of users that leaves the lab's two cores room
# to roll the update; a connection per request: a reload closes idle keep-alive connections
VECTOR_TILE = '/tiles/data/places/6/%d/%d.pbf' % tile_xy(4.8357, 45.764, 6)
LOADS = (('mapproxy', WMTS_TILE, 8, 25), ('qgis-server', GETMAP_256, 4, 100), ('tileserver-gl', VECTOR_TILE, 4, 25))
ROLLED = ('mapproxy', 'qgis-server', 'tileserver-gl')


def test_check_mode_plans_exactly_the_update_the_run_then_makes(deployed, tmp_path_factory):
    """site.yml --check --diff on the swarm: a changed setting of MapProxy, QGIS Server
    and TileServer GL each is planned as an update of that service, naming MapProxy's
    config, and a changed proxy setting and a certificate of the user's instead of the
    self-signed one as no update (the proxy reloads nginx); check mode
    updates no service; the real run then does what was planned: each service's two
    replicas roll one after the other, start-first (a stopped replica serves on for
    kargo_drain_seconds while the proxy learns it is gone), and the proxy's nginx reloads
    in its container, while wrk asks the proxy for each service's answer: not one request
    fails."""
    versions = service_versions()
    proxy_container = task_containers('node1', service('proxy_proxy'))
    seeded_before = mapproxy_seed_marks()
    changes = dict(mapproxy_meta_buffer=100, proxy_tiles_max_age=60, qgis_server_log_level=0,
                   tileserver_gl_style_colors={'background': '#cfe3f0', 'fill': '#c8d2b4', 'line': '#8a7f72'},
                   **certificate_settings(tmp_path_factory.mktemp('certificate'), 'users'))
    checked = site(options=['--check', '--diff'], **changes)
    assert checked.rc == 0, checked.explain()
    planned = checked.deploy_plans('node1')[0]
    assert planned[service('mapproxy')] == [('mapproxy', 'update', ['config:mapproxy_yaml changed'])], planned
    # QGIS Server's log level is in its environment (the service definition), the style in a config
    assert planned[service('qgis-server')] == [('qgis-server', 'update', ['definition changed'])], planned
    assert planned[service('tileserver-gl')] == [('tileserver-gl', 'update', ['config:style_json changed'])], planned
    # the user's certificate is not backed up (it comes from the controller): the scheduled
    # backups' service no longer mounts the proxy's certificate folder
    assert planned[service('backup')] == [('backup', 'update', ['definition changed', 'volume:/opt/kargo/proxy/tls changed'])], \
        planned
    for stack in STACKS:
        if stack not in ROLLED + ('backup',):
            assert all(action == 'unchanged' for _s, action, _r in planned[service(stack)]), planned
    assert service_versions() == versions

    started = manager_now()
    with contextlib.ExitStack() as running:
        loads = [(stack, running.enter_context(LoadDuring(BASE + path, connections, pause_ms=pause, new_connections=True)))
                 for stack, path, connections, pause in LOADS]
        applied = site(**changes)
    assert applied.rc == 0, applied.explain()
    CHANGED_SETTINGS.update(changes)
    for stack, load in loads:
        print('wrk on %s during the rolling updates and the reload of the proxy: %d requests in %.0f s, p99 %.0f ms, '
              '%d failed %s' % (stack, load.report['requests'], load.report['seconds'], load.report['p99_ms'],
                                load.report['failed'], load.report['errors']))
    for stack, load in loads:
        assert load.report['requests'] > 0 and load.report['failed'] == 0, (stack, load.report)
    assert_no_request_waited_for_a_gone_replica(started)
    assert applied.deploy_plans('node1')[0] == planned
    after = service_versions()
    assert [name for name in sorted(after) if after[name] != versions[name]] == \
        sorted(service('%s_%s' % (stack, stack)) for stack in ROLLED + ('backup',))
    assert 'QGIS_SERVER_LOG_LEVEL=0' in container_spec(service('qgis-server_qgis-server'))['Env']
    # the proxy: the same container, its site copied to every node, the new setting served
    assert task_containers('node1', service('proxy_proxy')) == proxy_container
    assert 'geostack.kargo.proxy : proxy | reload nginx where its settings changed' in applied.changed_tasks('node1')
    assert get(BASE, WMTS_TILE).headers['Cache-Control'] == 'public, max-age=60'
    assert serves_certificate(MANAGER_IP, 443, open(changes['proxy_tls_certificate_file']).read())
    for node in NODES:
        assert 'public, max-age=60' in on_node(node, 'cat', '/opt/kargo/proxy/site/site.conf').stdout, node
        assert on_node(node, 'cat', '/opt/kargo/proxy/tls/custom.crt').stdout == open(changes['proxy_tls_certificate_file']).read()
    # the changed setting is in what every cache is seeded for: each replica's (on its own
    # node) was dropped and seeded again, none keeps tiles made with the old setting
    seeded_after = mapproxy_seed_marks()
    old = set(mark for marks in seeded_before.values() for mark in marks.values())
    assert len(seeded_after) == 2 and len(set(json.dumps(m, sort_keys=True) for m in seeded_after.values())) == 1, seeded_after
    assert all(sorted(marks) == sorted(seeded_before[min(seeded_before)]) and not set(marks.values()) & old
               for marks in seeded_after.values()), (seeded_before, seeded_after)


def lab_images(**replaced):
    """kargo_images as the lab deploys them (its registry, its tag), `replaced` aside."""
    images = dict((name, '%s:5000/%s:%s' % (MANAGER_IP, image.rpartition(':')[0], SETTINGS['kargo_build_tag']))
                  for name, image in built_names().items())
    return dict(images, **replaced)


def pushed_tileserver_image(tag, dockerfile):
    """A TileServer GL image built on node1 from `dockerfile` (%s: the lab's image), pushed
    to the lab's registry as `tag`: its name there."""
    name = '%s:5000/geostack-kargo/tileserver-gl:%s' % (MANAGER_IP, tag)
    built = subprocess.run(['docker', 'exec', '-i', '%s-node1' % LAB, 'docker', 'build', '-q', '-t', name, '-'],
                           input=dockerfile % lab_images()['tileserver_gl'], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    on_node('node1', 'docker', 'push', '-q', name)
    return name


def replica_containers(name):
    return sorted(task_containers(node, name)[0] for node in running_tasks(name))


def test_a_new_image_rolls_with_no_failed_request(deployed):
    """A new image of TileServer GL (the lab's, another label: a new image ID) given in
    kargo_images: its two replicas are replaced one after the other, start-first, while wrk
    asks the proxy for vector tiles (paced, a connection per request): not one fails."""
    tiles = service('tileserver-gl_tileserver-gl')
    before = replica_containers(tiles)
    images = lab_images(tileserver_gl=pushed_tileserver_image('next', 'FROM %s\nLABEL org.geostack.kargo.test=next\n'))
    started = manager_now()
    with LoadDuring(BASE + VECTOR_TILE, connections=4, pause_ms=25, new_connections=True) as load:
        rolled = site(kargo_images=images)
    print('\nwrk on a vector tile while TileServer GL rolled to a new image: %(requests)d requests in %(seconds).0f s, '
          'p99 %(p99_ms).0f ms, %(failed)d failed %(errors)s' % load.report)
    assert rolled.rc == 0, rolled.explain()
    CHANGED_SETTINGS['kargo_images'] = images
    assert load.report['requests'] > 0 and load.report['failed'] == 0, load.report
    assert_no_request_waited_for_a_gone_replica(started)
    assert container_spec(tiles)['Image'].split('@')[0] == images['tileserver_gl']
    after = replica_containers(tiles)
    assert len(after) == 2 and not set(after) & set(before), (before, after)


# an image that starts and never answers: never healthy
NEVER_HEALTHY = 'FROM %s\nENTRYPOINT ["sh", "-c", "echo this image never answers; exec sleep infinity", "--"]\n'


def test_an_image_that_never_gets_healthy_is_rolled_back_while_the_old_one_serves(deployed):
    """A new TileServer GL image whose server never answers: its first new replica never
    gets healthy, swarm rolls the service back by itself, site.yml fails naming the
    service and the reason, and the old replicas serve every vector tile asked meanwhile
    (wrk through the proxy, paced, a connection per request): not one request fails."""
    tiles = service('tileserver-gl_tileserver-gl')
    before = container_spec(tiles)['Image']
    broken = pushed_tileserver_image('never-healthy', NEVER_HEALTHY)
    tasks_before = replica_containers(tiles)

    started = manager_now()
    with LoadDuring(BASE + VECTOR_TILE, connections=4, pause_ms=25, new_connections=True) as load:
        failed = site(kargo_images=dict(CHANGED_SETTINGS.get('kargo_images', lab_images()), tileserver_gl=broken))
    print('\nwrk on a vector tile while a never healthy image of TileServer GL was rolled back: %(requests)d '
          'requests in %(seconds).0f s, p99 %(p99_ms).0f ms, %(failed)d failed %(errors)s' % load.report)
    said = ' '.join(failed.failure_messages('node1'))
    print(said[:1500])
    assert failed.rc != 0
    # named by the wait for the stacks started so far (swarm_wait)
    assert "service 'tileserver-gl' of stack '%s': update rollback_completed" % service('tileserver-gl') in said, \
        failed.explain() + said
    assert 'unhealthy container' in said, said
    assert load.report['requests'] > 0 and load.report['failed'] == 0, load.report
    assert_no_request_waited_for_a_gone_replica(started)
    # the same replicas as before, on the old image
    assert container_spec(tiles)['Image'] == before
    assert replica_containers(tiles) == tasks_before


def database_query(sql, database='gis'):
    """psql in the running database container on node2: its output, or None while there is
    no such container or it does not answer (a failed statement changes nothing: psql
    stops at the first error, and the writes of the tests are one transaction each). Not
    only a healthy one: on a loaded machine a healthcheck that timed out makes a running
    server unhealthy for a while."""
    containers = task_containers('node2', service('postgis_postgis'))
    if not containers:
        return None
    done = subprocess.run(['docker', 'exec', '-i', '%s-node2' % LAB, 'docker', 'exec', '-i', containers[0], 'sh', '-c',
                           'PGPASSWORD="$(cat /run/secrets/db_password)" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 '
                           '-U kargo -d %s -tA' % database], input=sql, capture_output=True, text=True, timeout=120)
    return done.stdout.strip() if done.returncode == 0 else None


def test_postgis_data_survives_a_restart_of_its_service(deployed):
    on_node('node1', 'docker', 'service', 'update', '--force', '--detach', service('postgis_postgis'))
    count = wait_for(lambda: database_query('SELECT count(*) FROM countries'), 180, 'PostGIS to answer again')
    assert int(count) > 200


LAB_ROWS = """
BEGIN;
CREATE TABLE lab_points (id integer PRIMARY KEY, name text NOT NULL, geom geometry);
INSERT INTO lab_points VALUES (1, 'Genève — Jet d''eau', ST_SetSRID(ST_MakePoint(6.1557, 46.2074), 4326)),
  (2, 'Kraków Rynek', ST_Transform(ST_SetSRID(ST_MakePoint(19.937, 50.061), 4326), 3857)),
  (3, 'no position yet', NULL);
CREATE ROLE lab_reader LOGIN PASSWORD 'lab-reader-ø';
GRANT SELECT ON lab_points TO lab_reader;
COMMIT;
"""
LAB_DIGEST = ("SELECT md5(string_agg(id || name || coalesce(ST_AsEWKT(geom), 'NULL'), ',' ORDER BY id)) "
              "|| ' ' || has_table_privilege('lab_reader', 'lab_points', 'SELECT') FROM lab_points")


def backup_names(node):
    listed = on_node(node, 'sh', '-c', 'ls /opt/kargo/backups 2>/dev/null || true').stdout.split()
    return [name for name in listed if name.endswith('Z')]


@pytest.mark.parametrize('host, message', [
    ('node3', 'kargo_backup_host: the database (%s) has no running task on node3' % service('postgis_postgis')),
    ('node9', 'kargo_backup_host: node9 is not a host of the inventory'),
])
def test_a_backup_host_without_the_database_is_refused_naming_the_setting(deployed, host, message):
    before = backup_names(host) if host != 'node9' else []
    refused = run_playbook('playbooks/backup.yml', dict(SETTINGS, kargo_backup_host=host), inventory=INVENTORY)
    said = ' '.join(refused.failure_messages('node1'))
    assert refused.rc != 0 and message in said, refused.explain() + said
    if host != 'node9':
        assert backup_names(host) == before


def selfsigned_certificates():
    """{node: its copy of the proxy's self-signed certificate}"""
    return dict((node, on_node(node, 'cat', '/opt/kargo/proxy/tls/selfsigned.crt', check=False).stdout)
                for node in NODES)


def test_the_database_lost_with_its_volume_is_restored_from_the_backup_on_its_node(deployed):
    """Swarm mode round trip: backup.yml writes the backup on node2 (the database's
    labelled node), with the proxy's self-signed certificate and key (made on node1, copied
    to every node); the postgis stack and its volume on node2 are lost, and the certificate
    on every node; site.yml deploys an empty database and makes a new certificate;
    restore.yml gives the rows, the role and the certificate back, on every node, served by
    the proxy (reloaded)."""
    assert wait_for(lambda: database_query(LAB_ROWS) is not None, 120, 'the test rows to be written') is not None
    digest = wait_for(lambda: database_query(LAB_DIGEST), 60, 'the digest of the test rows')
    assert digest.endswith(' true'), digest
    # the self-signed certificate again (the check-mode test gave the proxy one of the user's)
    for name in ('proxy_tls_certificate_file', 'proxy_tls_key_file'):
        CHANGED_SETTINGS.pop(name, None)
    certificate = selfsigned_certificates()['node1']
    assert certificate.startswith('-----BEGIN CERTIFICATE-----') and set(selfsigned_certificates().values()) == {certificate}

    made = run_playbook('playbooks/backup.yml', dict(SETTINGS), inventory=INVENTORY)
    assert made.rc == 0, made.explain()
    assert 'the files proxy_tls (2)' in ' '.join(made.messages('node1')), made.explain()
    names = backup_names('node2')
    assert names and not backup_names('node1'), names
    status = run_playbook('playbooks/status.yml', dict(SETTINGS), inventory=INVENTORY)
    assert status.rc == 0 and names[-1] in ' '.join(status.messages('node1')), status.explain()

    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_services=['postgis']), inventory=INVENTORY)
    assert removed.rc == 0, removed.explain()
    # node2's disk is lost: the data and the socket volumes (pgBackRest's repository is on
    # node3: no volume of it on node2)
    volumes = [service('postgis-' + name) for name in ('data', 'socket')]
    assert service('postgis-pitr') not in on_node('node2', 'docker', 'volume', 'ls', '-q').stdout
    wait_for(lambda: on_node('node2', 'docker', 'volume', 'rm', *volumes, check=False).returncode == 0, 120,
             'the database volumes on node2 to be free, and removed')
    for node in NODES:
        on_node(node, 'sh', '-c', 'rm /opt/kargo/proxy/tls/selfsigned.*')

    again = site()
    assert again.rc == 0, again.explain()
    # pgBackRest's repository on node3 outlived the database: left to it, and said so
    assert 'holds the backups of another database' in ' '.join(again.messages('node1')), again.explain()
    empty = wait_for(lambda: database_query("SELECT to_regclass('lab_points') IS NULL"), 180, 'the new database')
    assert empty == 't'
    made_again = selfsigned_certificates()['node1']
    assert made_again != certificate and serves_certificate(MANAGER_IP, 443, made_again)

    restored = run_playbook('playbooks/restore.yml', dict(SETTINGS), inventory=INVENTORY)
    assert restored.rc == 0, restored.explain()
    said = ' '.join(restored.messages('node1'))
    assert 'Restored backup %s' % names[-1] in said and 'the files proxy_tls back in their folders' in said, \
        restored.explain()
    # the repository follows the restored database from now on
    assert 'it follows the restored one from now on' in said, said
    assert wait_for(lambda: database_query(LAB_DIGEST), 120, 'the restored database') == digest
    assert selfsigned_certificates() == dict((node, certificate) for node in NODES)
    assert serves_certificate(MANAGER_IP, 443, certificate)
    assert 'geostack.kargo.proxy : proxy | reload nginx where its settings changed' in restored.changed_tasks('node1')


def utc_now_in_database():
    return database_query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")


def repository_listing(node, folder):
    """What pgBackRest's repository holds in `folder` (backup/kargo, archive/kargo), in the
    backup-repository container on `node`."""
    containers = task_containers(node, service('backup-repository_backup-repository'))
    return on_node(node, 'docker', 'exec', containers[0], 'ls', '/var/lib/pgbackrest/' + folder).stdout.split()


def test_the_database_goes_back_to_a_point_in_time_after_its_node_lost_it(deployed):
    """Swarm mode point-in-time recovery from the repository on node3: a pgBackRest backup
    there by backup.yml and the WAL archived there over SFTP; rows at T1, more at T2; node2
    loses the database's volumes, site.yml makes a new empty database (the repository is
    left to the one before); restore to T1: the T1 rows only, and the database takes
    writes again, its WAL archived again."""
    made = run_playbook('playbooks/backup.yml', dict(SETTINGS), inventory=INVENTORY)
    assert made.rc == 0, made.explain()
    said = ' '.join(made.messages('node1'))
    assert 'Point in time: pgBackRest full backup' in said, made.explain()
    label = said.split('Point in time: pgBackRest full backup ')[1].split()[0]
    assert label in repository_listing('node3', 'backup/kargo'), label
    wait_for(lambda: database_query("BEGIN; CREATE TABLE pitr_rows (id integer PRIMARY KEY, at text);"
                                    "INSERT INTO pitr_rows VALUES (1, 'T1'); COMMIT;") is not None, 60, 'the T1 row')
    t1 = wait_for(utc_now_in_database, 60, 'the time T1')
    time.sleep(2)
    wait_for(lambda: database_query("INSERT INTO pitr_rows VALUES (2, 'T2')") is not None, 60, 'the T2 row')
    # the WAL up to now archived on node3 (check switches to a new segment and waits for it)
    postgis = task_containers('node2', service('postgis_postgis'))[0]
    on_node('node2', 'docker', 'exec', postgis, 'pgbackrest', 'check')

    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_services=['postgis']), inventory=INVENTORY)
    assert removed.rc == 0, removed.explain()
    volumes = [service('postgis-' + name) for name in ('data', 'socket')]
    wait_for(lambda: on_node('node2', 'docker', 'volume', 'rm', *volumes, check=False).returncode == 0, 120,
             'the database volumes on node2 to be free, and removed')
    again = site()
    assert again.rc == 0, again.explain()
    assert 'holds the backups of another database' in ' '.join(again.messages('node1')), again.explain()
    assert wait_for(lambda: database_query("SELECT to_regclass('pitr_rows') IS NULL"), 180, 'the new database') == 't'

    restored = run_playbook('playbooks/restore.yml', dict(SETTINGS, kargo_restore_time=t1), inventory=INVENTORY)
    assert restored.rc == 0, restored.explain()
    assert 'Restored the database to' in ' '.join(restored.messages('node1')), restored.explain()
    rows = wait_for(lambda: database_query("SELECT string_agg(at, ',' ORDER BY id) FROM pitr_rows"), 120,
                    'the restored database')
    assert rows == 'T1'
    wait_for(lambda: database_query("INSERT INTO pitr_rows VALUES (3, 'after')") is not None, 60, 'a write after it')
    assert wait_for(lambda: database_query("SELECT count(*) FROM pitr_rows"), 60, 'the rows after it') == '2'
    assert running_tasks(service('postgis_postgis')) == ['node2']
    # archived on node3 again: the repository follows the database it brought back
    on_node('node2', 'docker', 'exec', task_containers('node2', service('postgis_postgis'))[0], 'pgbackrest', 'check')


def test_a_lost_worker_is_replaced_and_rejoins(deployed):
    subprocess.run(['docker', 'stop', '-t', '2', '%s-node3' % LAB], check=True, capture_output=True)
    try:
        def recovered():
            nodes = dict((name, running_tasks(service(name))) for name in REPLICATED)
            return all(len(n) == 2 and 'node3' not in n for n in nodes.values()) and nodes
        print('\nafter losing node3: %s' % wait_for(recovered, 240, 'the replicas to move off node3'))
        for check in EVERY_CHECK:
            check(BASE)
    finally:
        subprocess.run(['docker', 'start', '%s-node3' % LAB], check=True, capture_output=True)
    # the node's engine comes back with the infrastructure playbook (no init system in a lab node)
    back = run_playbook('playbooks/infrastructure.yml', dict(SETTINGS), inventory=INVENTORY)
    assert back.rc == 0, back.explain()

    def node3_ready():
        states = on_node('node1', 'docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}').stdout
        return 'node3 Ready' in states
    wait_for(node3_ready, 120, 'node3 to be Ready again')
