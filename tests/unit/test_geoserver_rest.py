"""Publishing the datasets in GeoServer (module_utils.geoserver_rest and the geoserver_publish
module) against FakeGeoServer, a small in-process stand-in for GeoServer's REST API.

plan() is tested on its own first (no HTTP), then the whole publish (wait, read, plan,
apply) over real HTTP requests made by ansible's open_url.
"""
import base64
import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.geostack.kargo.plugins.module_utils import geoserver_rest as gs
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure
from ansible_collections.geostack.kargo.plugins.modules import geoserver_publish

ADMIN_PASSWORD = 'geo-Secret-42'
DB_PASSWORD = 'db-Secret-43'
DATABASE = {'host': 'postgis', 'port': 5432, 'name': 'kargo', 'user': 'kargo', 'password': DB_PASSWORD,
            'schema': 'kargo_data'}
LAYERS = [  # as roles/datasets (kargo_data.py) describes them in datasets_layers
    {'name': 'roads', 'kind': 'vector', 'title': 'Roads', 'geometry_type': 'LineString', 'srid': 4326,
     'extent': [2.0, 48.0, 3.0, 49.0]},
    {'name': 'parcels', 'kind': 'vector', 'title': 'Parcels', 'geometry_type': 'MultiPolygon', 'srid': 2154,
     'extent': [2.1, 48.1, 2.9, 48.9]},
    {'name': 'dem', 'kind': 'raster', 'title': 'Elevation', 'cog': 'dem-0123456789ab.tif', 'sha256': '0123456789ab' * 5,
     'extent': [2.0, 48.0, 3.0, 49.0], 'srid': 2154, 'proj4': '+proj=lcc'},
]


# ---------------------------------------------------------------- the fake GeoServer

class FakeGeoServer(object):
    """A stand-in for GeoServer's REST API, used only because GeoServer itself cannot run on
    this machine (no package or image of it is reachable here): the real-server test is
    impossible, so the client is tested against this instead.

    It implements only the endpoints the client uses, in JSON, keeping its catalog in dicts
    (workspace -> datastores -> feature types, workspace -> coverage stores -> coverages),
    requires Basic auth (401 otherwise), answers empty lists as "" and a single
    connection parameter list as GeoServer does, refuses a DELETE without recurse=true
    (the layer refers to the resource), and never gives a datastore's password back.
    `writes` records every POST/PUT/DELETE; `failures` maps (method, path) to the
    (status, body) to answer instead; `version_status` is the status of about/version.
    """

    def __init__(self, user='admin', password=ADMIN_PASSWORD):
        self.user, self.password = user, password
        self.workspaces = {}
        self.writes = []
        self.failures = {}
        self.version_status = 200
        self.lock = threading.Lock()

    # -- catalog helpers (also used by the tests to look at and seed the state)
    def add_workspace(self, name):
        return self.workspaces.setdefault(name, {'datastores': {}, 'coveragestores': {}})

    def feature_types(self, workspace='kargo', store='kargo_postgis'):
        return self.workspaces[workspace]['datastores'][store]['featuretypes']

    def coverage_stores(self, workspace='kargo'):
        return self.workspaces[workspace]['coveragestores']

    # -- HTTP
    def handle(self, method, path, query, body, authorization):
        expected = 'Basic ' + base64.b64encode(('%s:%s' % (self.user, self.password)).encode()).decode()
        if authorization != expected:
            return 401, {'error': 'HTTP 401 Unauthorized'}
        if method != 'GET':
            self.writes.append((method, path))
        if (method, path) in self.failures:
            return self.failures[(method, path)]
        if path == '/rest/about/version.json':
            return self.version_status, {'about': {'resource': [{'@name': 'GeoServer', 'Version': '2.26.1'}]}}
        for pattern, handler in ROUTES:
            match = re.match('^' + pattern + '$', path)
            if match and hasattr(self, '%s_%s' % (method.lower(), handler)):
                with self.lock:
                    try:
                        return getattr(self, '%s_%s' % (method.lower(), handler))(
                            body, query, *[unquote(part) for part in match.groups()])
                    except KeyError as missing:
                        return 404, 'No such resource: %s' % missing
        return 404, 'No mapping for %s %s' % (method, path)

    def get_workspace(self, body, query, ws):
        self.workspaces[ws]
        return 200, {'workspace': {'name': ws}}

    def post_workspaces(self, body, query):
        name = body['workspace']['name']
        if name in self.workspaces:
            return 409, 'Workspace named %s already exists' % name
        self.add_workspace(name)
        return 201, name

    def get_datastore(self, body, query, ws, ds):
        store = self.workspaces[ws]['datastores'][ds]
        entries = [{'@key': key, '$': value} for key, value in sorted(store['params'].items())]
        for entry in entries:
            if entry['@key'] == 'passwd':
                entry['$'] = 'crypt1:EO1hf6vAUnkGwxGM1u1dyA=='  # never the password itself
        return 200, {'dataStore': {'name': ds, 'type': 'PostGIS', 'enabled': True, 'workspace': {'name': ws},
                                   'connectionParameters': {'entry': entries[0] if len(entries) == 1 else entries}}}

    def post_datastores(self, body, query, ws):
        stores = self.workspaces[ws]['datastores']
        store = body['dataStore']
        if store['name'] in stores:
            return 500, 'Store %s already exists in workspace %s' % (store['name'], ws)
        stores[store['name']] = {'params': self._params(store), 'featuretypes': {}}
        return 201, store['name']

    def put_datastore(self, body, query, ws, ds):
        self.workspaces[ws]['datastores'][ds]['params'] = self._params(body['dataStore'])
        return 200, ''

    @staticmethod
    def _params(store):
        return dict((entry['@key'], entry['$']) for entry in store['connectionParameters']['entry'])

    def get_featuretypes(self, body, query, ws, ds):
        names = sorted(self.workspaces[ws]['datastores'][ds]['featuretypes'])
        if not names:
            return 200, {'featureTypes': ''}
        items = [{'name': name, 'href': 'http://x/%s.json' % name} for name in names]
        return 200, {'featureTypes': {'featureType': items}}

    def get_featuretype(self, body, query, ws, ds, name):
        return 200, {'featureType': dict(self.workspaces[ws]['datastores'][ds]['featuretypes'][name],
                                         store={'@class': 'dataStore', 'name': '%s:%s' % (ws, ds)})}

    def post_featuretypes(self, body, query, ws, ds):
        feature = body['featureType']
        types = self.workspaces[ws]['datastores'][ds]['featuretypes']
        if feature['name'] in types or feature.get('nativeName') != feature['name']:
            return 500, 'Resource named %s already exists or has no table' % feature['name']
        types[feature['name']] = dict(feature, nativeBoundingBox={'minx': 0, 'miny': 0, 'maxx': 1, 'maxy': 1})
        return 201, feature['name']

    def put_featuretype(self, body, query, ws, ds, name):
        self.workspaces[ws]['datastores'][ds]['featuretypes'][name].update(body['featureType'])
        return 200, ''

    def delete_featuretype(self, body, query, ws, ds, name):
        types = self.workspaces[ws]['datastores'][ds]['featuretypes']
        types[name]
        if query.get('recurse') != 'true':
            return 403, 'Resource %s is referenced by a layer: use recurse=true' % name
        del types[name]
        return 200, ''

    def get_coveragestores(self, body, query, ws):
        names = sorted(self.workspaces[ws]['coveragestores'])
        if not names:
            return 200, {'coverageStores': ''}
        items = [{'name': name, 'href': 'http://x/%s.json' % name} for name in names]
        return 200, {'coverageStores': {'coverageStore': items[0] if len(items) == 1 else items}}

    def get_coveragestore(self, body, query, ws, cs):
        store = self.workspaces[ws]['coveragestores'][cs]
        return 200, {'coverageStore': {'name': cs, 'type': store['type'], 'enabled': True, 'url': store['url'],
                                       'workspace': {'name': ws}, 'coverages': 'http://x/%s/coverages.json' % cs}}

    def post_coveragestores(self, body, query, ws):
        store = body['coverageStore']
        if store['name'] in self.workspaces[ws]['coveragestores']:
            return 500, 'Store %s already exists' % store['name']
        stores = self.workspaces[ws]['coveragestores']
        stores[store['name']] = {'type': store['type'], 'url': store['url'], 'coverages': {}}
        return 201, store['name']

    def put_coveragestore(self, body, query, ws, cs):
        store = self.workspaces[ws]['coveragestores'][cs]
        store['url'] = body['coverageStore'].get('url', store['url'])
        return 200, ''

    def delete_coveragestore(self, body, query, ws, cs):
        self.workspaces[ws]['coveragestores'][cs]
        if query.get('recurse') != 'true':
            return 403, 'Store %s is not empty: use recurse=true' % cs
        del self.workspaces[ws]['coveragestores'][cs]
        return 200, ''

    def get_coverage(self, body, query, ws, cs, name):
        return 200, {'coverage': self.workspaces[ws]['coveragestores'][cs]['coverages'][name]}

    def post_coverages(self, body, query, ws, cs):
        store = self.workspaces[ws]['coveragestores'][cs]
        coverage = body['coverage']
        # a GeoTIFF's one coverage is named after its file
        if coverage['nativeName'] != store['url'].rsplit('/', 1)[-1].rsplit('.', 1)[0]:
            return 500, 'No coverage named %s in %s' % (coverage['nativeName'], store['url'])
        store['coverages'][coverage['name']] = dict(coverage, nativeCoverageName=coverage['nativeName'])
        return 201, coverage['name']

    def put_coverage(self, body, query, ws, cs, name):
        self.workspaces[ws]['coveragestores'][cs]['coverages'][name].update(body['coverage'])
        return 200, ''


SEGMENT = '([^/]+)'
ROUTES = [  # (path pattern, handler name: <method>_<name> of FakeGeoServer)
    ('/rest/workspaces', 'workspaces'),
    (r'/rest/workspaces/%s\.json' % SEGMENT, 'workspace'),
    ('/rest/workspaces/%s/datastores' % SEGMENT, 'datastores'),
    (r'/rest/workspaces/%s/datastores/([^/]+?)(?:\.json)?' % SEGMENT, 'datastore'),
    (r'/rest/workspaces/%s/datastores/%s/featuretypes(?:\.json)?' % (SEGMENT, SEGMENT), 'featuretypes'),
    (r'/rest/workspaces/%s/datastores/%s/featuretypes/([^/]+?)(?:\.json)?' % (SEGMENT, SEGMENT), 'featuretype'),
    (r'/rest/workspaces/%s/coveragestores(?:\.json)?' % SEGMENT, 'coveragestores'),
    (r'/rest/workspaces/%s/coveragestores/([^/]+?)(?:\.json)?' % SEGMENT, 'coveragestore'),
    (r'/rest/workspaces/%s/coveragestores/%s/coverages' % (SEGMENT, SEGMENT), 'coverages'),
    (r'/rest/workspaces/%s/coveragestores/%s/coverages/([^/]+?)(?:\.json)?' % (SEGMENT, SEGMENT), 'coverage'),
]


def handler_for(fake):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, method):
            parts = urlsplit(self.path)
            query = dict(item.partition('=')[::2] for item in parts.query.split('&') if item)
            length = int(self.headers.get('Content-Length') or 0)
            body = json.loads(self.rfile.read(length).decode()) if length else None
            status, payload = fake.handle(method, parts.path.replace('/geoserver', '', 1), query, body,
                                          self.headers.get('Authorization'))
            data = (json.dumps(payload) if isinstance(payload, dict) else payload).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json' if isinstance(payload, dict) else 'text/plain')
            self.send_header('Content-Length', str(len(data)))
            if status == 401:
                self.send_header('WWW-Authenticate', 'Basic realm="GeoServer Realm"')
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.answer('GET')

        def do_POST(self):
            self.answer('POST')

        def do_PUT(self):
            self.answer('PUT')

        def do_DELETE(self):
            self.answer('DELETE')

        def log_message(self, *args):
            pass
    return Handler


@pytest.fixture()
def fake():
    server = FakeGeoServer()
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler_for(server))
    threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
    server.url = 'http://127.0.0.1:%d/geoserver' % httpd.server_address[1]
    yield server
    httpd.shutdown()
    httpd.server_close()


def run(fake, layers=LAYERS, password=ADMIN_PASSWORD, database=DATABASE, check_mode=False, timeout=5):
    client = gs.RestClient(fake.url, 'admin', password, timeout=5)

    def wait(client, timeout):
        return gs.wait_until_up(client, timeout, interval=0.01)
    return gs.publish(client, 'kargo', 'kargo_postgis', layers, database=database, timeout=timeout,
                      check_mode=check_mode, wait=wait)


def summary(actions):
    return [(action['action'], action['kind'], action['name']) for action in actions]


# ---------------------------------------------------------------- plan(), no HTTP

def empty():
    return {'workspace': False, 'datastore': None, 'featuretypes': {}, 'coveragestores': {}}


def published_state(layers=LAYERS):
    """What GeoServer holds once `layers` are published (as read_state reads it)."""
    wanted = gs.wanted_state('kargo', 'kargo_postgis', layers, DATABASE)
    return {'workspace': True, 'datastore': dict(wanted['datastore']),
            'featuretypes': dict((name, {'title': feature['title'], 'srs': feature['srs']})
                                 for name, feature in wanted['featuretypes'].items()),
            'coveragestores': dict((name, {'url': c['url'], 'coverage': dict(c['coverage'])})
                                   for name, c in wanted['coveragestores'].items())}


def wanted(layers=LAYERS, database=DATABASE):
    return gs.wanted_state('kargo', 'kargo_postgis', layers, database)


def test_wanted_state_from_datasets_layers():
    state = wanted()
    assert state['datastore'] == {'host': 'postgis', 'port': '5432', 'database': 'kargo', 'user': 'kargo',
                                  'schema': 'kargo_data'}
    assert 'password' not in json.dumps(state) and DB_PASSWORD not in json.dumps(state)
    assert state['featuretypes'] == {'roads': {'title': 'Roads', 'srs': 'EPSG:4326'},
                                     'parcels': {'title': 'Parcels', 'srs': 'EPSG:2154'}}
    assert state['coveragestores'] == {'dem': {'url': 'file:/var/lib/kargo/rasters/dem-0123456789ab.tif',
                                               'coverage': {'title': 'Elevation', 'nativeName': 'dem-0123456789ab'}}}


def test_wanted_state_without_srid_has_no_srs_and_without_vectors_no_datastore():
    layers = [dict(LAYERS[0], srid=0), LAYERS[2]]
    assert wanted(layers)['featuretypes']['roads']['srs'] is None
    assert wanted([LAYERS[2]], database=None)['datastore'] is None
    with pytest.raises(gs.GeoServerError, match='roads'):
        wanted([LAYERS[0]], database=None)


def test_plan_from_nothing_creates_everything_in_order():
    assert summary(gs.plan(empty(), wanted())) == [
        ('create', 'workspace', 'kargo'), ('create', 'datastore', 'kargo_postgis'),
        ('create', 'featuretype', 'parcels'), ('create', 'featuretype', 'roads'),
        ('create', 'coveragestore', 'dem'), ('create', 'coverage', 'dem')]


def test_plan_of_what_is_published_is_empty():
    assert gs.plan(published_state(), wanted()) == []


def test_plan_updates_a_changed_title_only():
    layers = [dict(LAYERS[0], title='Main roads')] + LAYERS[1:]
    assert gs.plan(published_state(), wanted(layers)) == [
        {'action': 'update', 'kind': 'featuretype', 'name': 'roads', 'reason': "title 'Roads' -> 'Main roads'"}]


def test_plan_deletes_what_is_no_dataset_any_more_first():
    current = published_state()
    assert summary(gs.plan(current, wanted([LAYERS[0], dict(LAYERS[2], name='dem2')]))) == [
        ('delete', 'featuretype', 'parcels'), ('delete', 'coveragestore', 'dem'),
        ('create', 'coveragestore', 'dem2'), ('create', 'coverage', 'dem2')]


def test_plan_updates_store_and_coverage_for_a_new_raster_file():
    layers = LAYERS[:2] + [dict(LAYERS[2], cog='dem-ba9876543210.tif')]
    actions = gs.plan(published_state(), wanted(layers))
    assert summary(actions) == [('update', 'coveragestore', 'dem'), ('update', 'coverage', 'dem')]
    assert 'dem-ba9876543210.tif' in actions[0]['reason'] and 'dem-ba9876543210' in actions[1]['reason']


def test_plan_updates_the_datastore_when_a_compared_parameter_differs():
    current = published_state()
    current['datastore']['schema'] = 'public'
    assert gs.plan(current, wanted()) == [
        {'action': 'update', 'kind': 'datastore', 'name': 'kargo_postgis', 'reason': 'schema public -> kargo_data'}]
    # the password is not compared: GeoServer never gives it back
    assert gs.plan(published_state(), wanted(database=dict(DATABASE, password='another'))) == []


def test_plan_creates_a_missing_coverage_in_an_existing_store():
    current = published_state()
    current['coveragestores']['dem']['coverage'] = None
    assert summary(gs.plan(current, wanted())) == [('create', 'coverage', 'dem')]


def test_plan_keeps_the_datastore_without_vector_datasets():
    assert summary(gs.plan(published_state(), wanted([LAYERS[2]], database=None))) == [
        ('delete', 'featuretype', 'parcels'), ('delete', 'featuretype', 'roads')]


# ---------------------------------------------------------------- publishing, over HTTP

def test_first_publish_creates_everything_then_nothing_changes(fake):
    actions, names = run(fake)
    assert summary(actions) == summary(gs.plan(empty(), wanted()))
    assert names == ['dem', 'parcels', 'roads']
    store = fake.workspaces['kargo']['datastores']['kargo_postgis']
    assert store['params'] == {'host': 'postgis', 'port': '5432', 'database': 'kargo', 'user': 'kargo',
                               'passwd': DB_PASSWORD, 'schema': 'kargo_data', 'dbtype': 'postgis',
                               'Expose primary keys': 'true'}
    roads = fake.feature_types()['roads']
    assert [roads[key] for key in ('name', 'nativeName', 'title', 'srs', 'enabled')] == [
        'roads', 'roads', 'Roads', 'EPSG:4326', True]
    assert sorted(fake.feature_types()) == ['parcels', 'roads']
    dem = fake.coverage_stores()['dem']
    assert (dem['type'], dem['url']) == ('GeoTIFF', 'file:/var/lib/kargo/rasters/dem-0123456789ab.tif')
    assert dem['coverages']['dem']['nativeName'] == 'dem-0123456789ab'
    assert dem['coverages']['dem']['title'] == 'Elevation'

    fake.writes = []
    actions, names = run(fake)
    assert (actions, fake.writes) == ([], [])
    assert names == ['dem', 'parcels', 'roads']


def test_check_mode_reads_only(fake):
    actions, _names = run(fake, check_mode=True)
    assert summary(actions) == summary(gs.plan(empty(), wanted()))
    assert fake.writes == [] and fake.workspaces == {}


def test_a_changed_title_is_one_put(fake):
    run(fake)
    fake.writes = []
    actions, _names = run(fake, layers=[LAYERS[0], dict(LAYERS[1], title='Land parcels'), LAYERS[2]])
    assert summary(actions) == [('update', 'featuretype', 'parcels')]
    assert fake.writes == [('PUT', '/rest/workspaces/kargo/datastores/kargo_postgis/featuretypes/parcels')]
    assert fake.feature_types()['parcels']['title'] == 'Land parcels'


def test_a_new_raster_file_updates_its_store_and_coverage(fake):
    run(fake)
    fake.writes = []
    run(fake, layers=LAYERS[:2] + [dict(LAYERS[2], cog='dem-ba9876543210.tif')])
    assert fake.writes == [('PUT', '/rest/workspaces/kargo/coveragestores/dem'),
                           ('PUT', '/rest/workspaces/kargo/coveragestores/dem/coverages/dem')]
    dem = fake.coverage_stores()['dem']
    assert dem['url'] == 'file:/var/lib/kargo/rasters/dem-ba9876543210.tif'
    assert dem['coverages']['dem']['nativeCoverageName'] == 'dem-ba9876543210'


def test_a_removed_dataset_is_unpublished_and_nothing_else(fake):
    other = fake.add_workspace('other')  # someone else's layer of the same name, elsewhere
    other['datastores']['theirs'] = {'params': {'host': 'elsewhere'},
                                     'featuretypes': {'parcels': {'name': 'parcels', 'title': 'Theirs'}}}
    other['coveragestores']['dem'] = {'type': 'GeoTIFF', 'url': 'file:/theirs.tif', 'coverages': {}}
    before = copy.deepcopy(other)
    run(fake)
    fake.writes = []
    actions, names = run(fake, layers=[LAYERS[0], LAYERS[2]])
    assert summary(actions) == [('delete', 'featuretype', 'parcels')]
    assert fake.writes == [('DELETE', '/rest/workspaces/kargo/datastores/kargo_postgis/featuretypes/parcels')]
    assert sorted(fake.feature_types()) == ['roads'] and list(fake.coverage_stores()) == ['dem']
    assert names == ['dem', 'roads']
    assert fake.workspaces['other'] == before

    run(fake, layers=[LAYERS[0]])  # a raster removed: its coverage store goes, with its coverage
    assert fake.coverage_stores() == {} and fake.workspaces['other'] == before


def test_a_wrong_password_fails_at_once_naming_the_user(fake):
    with pytest.raises(ServiceFailure) as failure:
        run(fake, password='not-' + ADMIN_PASSWORD, timeout=60)
    message = str(failure.value)
    assert "geoserver_admin_user 'admin'" in message and 'refused' in message
    assert ADMIN_PASSWORD not in message
    assert fake.writes == []


def test_geoserver_not_answering_times_out_saying_its_last_answer(fake):
    fake.version_status = 503
    with pytest.raises(ServiceFailure, match='did not answer its REST API .* within 0.05s: .*answered 503'):
        run(fake, timeout=0.05)


def test_a_refused_feature_type_names_the_dataset_and_the_answer(fake):
    path = '/rest/workspaces/kargo/datastores/kargo_postgis/featuretypes'
    fake.failures[('POST', path)] = (500, 'java.lang.RuntimeException: Error occurred creating table roads' + 'x' * 400)
    with pytest.raises(gs.GeoServerError) as error:
        run(fake, layers=[LAYERS[0]])
    message = str(error.value)
    assert message.startswith("feature type of dataset 'roads': POST %s answered 500: java.lang" % path)
    assert len(message) < 500  # the body's first 300 characters only


def test_passwords_echoed_by_geoserver_are_hidden(fake):
    fake.failures[('POST', '/rest/workspaces/kargo/datastores')] = (
        500, 'Error creating data store with params {passwd=%s, user=kargo}' % DB_PASSWORD)
    with pytest.raises(gs.GeoServerError) as error:
        run(fake)
    assert "datastore 'kargo_postgis'" in str(error.value) and '500' in str(error.value)
    assert DB_PASSWORD not in str(error.value) and '********' in str(error.value)


# ---------------------------------------------------------------- the module

def module_run(fake, capsys, **args):
    params = dict(url=fake.url, password=ADMIN_PASSWORD, database=DATABASE, layers=LAYERS, timeout=5)
    params.update(args)
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            geoserver_publish.main()
    return json.loads(capsys.readouterr().out)


def test_module_check_mode_then_apply_then_unchanged(fake, capsys):
    planned = module_run(fake, capsys, _ansible_check_mode=True)
    assert planned['changed'] and len(planned['actions']) == 6 and fake.writes == []
    applied = module_run(fake, capsys)
    assert applied['changed'] and applied['actions'] == planned['actions']
    assert applied['published'] == ['dem', 'parcels', 'roads']
    again = module_run(fake, capsys)
    assert not again['changed'] and again['actions'] == []


def test_module_failure_holds_no_password(fake, capsys):
    failed = module_run(fake, capsys, password='wrong-' + ADMIN_PASSWORD, host_header='maps.example.org')
    assert failed['failed'] and 'refused' in failed['msg']
    assert ADMIN_PASSWORD not in json.dumps(failed) and DB_PASSWORD not in json.dumps(failed)
