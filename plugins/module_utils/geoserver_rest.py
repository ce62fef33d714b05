# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing the datasets in GeoServer through its REST API, reading before writing.

Three steps, so that check mode and the tests can stop after any of them:
  read_state(client, ...)  what GeoServer has now (GETs only);
  plan(current, wanted)    what to create, update or delete, and why (pure, no HTTP);
  apply(client, ...)       the requests of a plan.

Only workspace `workspace` (default kargo) is read or written: in it, the PostGIS
datastore `store` (its feature types are the vector datasets) and one GeoTIFF
coverage store per raster dataset. Nothing outside it is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.urls import open_url

from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, Verdict, wait_for

# The datastore's connection parameters compared with what is wanted. The password is
# not among them: GeoServer never gives it back (it answers it encrypted, or not at all),
# so a changed database password alone does not update the store.
COMPARED_PARAMETERS = ('host', 'port', 'database', 'user', 'schema')
BODY_CHARS = 300


class GeoServerError(Exception):
    """A request GeoServer refused or did not answer; the message says which and its answer."""


def quoted(name):
    return quote(str(name), safe='')


class RestClient(object):
    """GeoServer's REST API at `url` (e.g. https://127.0.0.1/geoserver), JSON, Basic auth."""

    def __init__(self, url, user, password, headers=None, validate_certs=True, timeout=60, opener=open_url):
        self.url = url.rstrip('/')
        self.user = user
        self.password = password
        self.headers = dict(headers or {})
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.opener = opener

    def request(self, method, path, body=None):
        """(status, text) of one request; an HTTP error status is an answer too. GeoServerError
        when there is none (connection refused, timeout...)."""
        headers = dict(self.headers, Accept='application/json')
        data = None
        if body is not None:
            headers['Content-Type'] = 'application/json'
            data = json.dumps(body).encode('utf-8')
        try:
            answer = self.opener(self.url + path, method=method, data=data, headers=headers,
                                 url_username=self.user, url_password=self.password, force_basic_auth=True,
                                 validate_certs=self.validate_certs, timeout=self.timeout, follow_redirects='none')
            try:
                return answer.getcode(), answer.read().decode('utf-8', 'replace')
            finally:
                answer.close()
        except HTTPError as error:
            try:
                text = error.read().decode('utf-8', 'replace')
            except Exception:
                text = ''
            return error.code, text
        except (URLError, OSError) as error:
            raise GeoServerError('%s %s%s: no answer (%s)' % (method, self.url, path, getattr(error, 'reason', error)))

    def refused(self):
        return ("GeoServer refused the administrator password of geoserver_admin_user '%s' (401): "
                "GeoServer's own password is not the one the role has" % self.user)

    def call(self, method, path, body=None, what=None):
        """The parsed JSON answer of a request (None for 404 to a GET, {} for an answer that is
        not JSON); GeoServerError naming `what`, the request and GeoServer's answer otherwise."""
        status, text = self.request(method, path, body)
        if status == 401:
            raise GeoServerError(self.refused())
        if method == 'GET' and status == 404:
            return None
        if not 200 <= status < 300:
            raise GeoServerError('%s: %s %s answered %s: %s' % (
                what or 'GeoServer', method, path, status, text.strip()[:BODY_CHARS] or '(empty body)'))
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError:
            return {}


def wait_until_up(client, timeout, interval=2.0, clock=time.monotonic, sleep=time.sleep):
    """Ask /rest/about/version.json until it answers 200 (ServiceFailure after `timeout` s,
    at once when GeoServer refuses the administrator's password). Returns the seconds waited."""
    last = {}

    def look():
        try:
            status, text = client.request('GET', '/rest/about/version.json')
        except GeoServerError as error:
            last['why'] = str(error)
            return [Verdict('geoserver', Verdict.WAITING, last['why'])]
        if status == 200:
            return [Verdict('geoserver', Verdict.READY)]
        if status == 401:
            return [Verdict('geoserver', Verdict.FAILED, client.refused())]
        last['why'] = '/rest/about/version.json answered %s: %s' % (status, text.strip()[:BODY_CHARS])
        return [Verdict('geoserver', Verdict.WAITING, last['why'])]

    def failure(verdicts, timed_out):
        if timed_out:
            return 'GeoServer did not answer its REST API at %s within %ss: %s' % (
                client.url, timeout, verdicts[0].reason)
        return verdicts[0].reason

    return wait_for(look, timeout, failure, interval=interval, clock=clock, sleep=sleep)


# ---------------------------------------------------------------- what is wanted

def wanted_state(workspace, store, layers, database=None, rasters_path='/var/lib/kargo/rasters'):
    """What GeoServer should have, from the datasets (datasets_layers) and the database
    settings (without the password). The datastore is wanted when a vector dataset is."""
    vectors = [layer for layer in layers if layer.get('kind', 'vector') == 'vector']
    rasters = [layer for layer in layers if layer.get('kind') == 'raster']
    datastore = None
    if vectors:
        if not database:
            raise GeoServerError('vector datasets (%s) need the database settings'
                                 % ', '.join(vector['name'] for vector in vectors))
        datastore = dict((key, str(database.get(key) if key != 'database' else database.get('name')))
                         for key in COMPARED_PARAMETERS)
    return {
        'workspace': workspace,
        'store': store,
        'datastore': datastore,
        'featuretypes': dict((layer['name'], {
            'title': layer.get('title') or layer['name'],
            'srs': 'EPSG:%d' % int(layer['srid']) if int(layer.get('srid') or 0) > 0 else None,
        }) for layer in vectors),
        'coveragestores': dict((layer['name'], {
            'url': 'file:%s/%s' % (rasters_path.rstrip('/'), layer['cog']),
            'coverage': {'title': layer.get('title') or layer['name'],
                         # a GeoTIFF's one coverage is named after its file
                         'nativeName': os.path.splitext(layer['cog'])[0]},
        }) for layer in rasters),
    }


# ---------------------------------------------------------------- what there is

def _names(answer, outer, inner):
    """The names of a GeoServer list answer ({"featureTypes": {"featureType": [...]}}; an
    empty list is answered as "", one item may come without its list)."""
    items = ((answer or {}).get(outer) or {})
    items = items.get(inner) if isinstance(items, dict) else None
    if isinstance(items, dict):
        items = [items]
    return sorted(item['name'] for item in items or [] if isinstance(item, dict) and 'name' in item)


def connection_parameters(datastore):
    """{key: value} of a dataStore's connectionParameters (entry as a list or a single dict)."""
    entries = ((datastore.get('connectionParameters') or {}).get('entry')) or []
    if isinstance(entries, dict):
        entries = [entries]
    return dict((entry.get('@key'), entry.get('$')) for entry in entries if isinstance(entry, dict))


def read_state(client, workspace, store):
    """What GeoServer has in `workspace` (GETs only): {workspace: bool, datastore: None or its
    compared parameters, featuretypes: {name: {title, srs}}, coveragestores: {name: {url,
    coverage: None or {title, nativeName}}}}."""
    state = {'workspace': False, 'datastore': None, 'featuretypes': {}, 'coveragestores': {}}
    ws = '/rest/workspaces/' + quoted(workspace)
    if client.call('GET', ws + '.json', what="workspace '%s'" % workspace) is None:
        return state
    state['workspace'] = True
    ds = '%s/datastores/%s' % (ws, quoted(store))
    answer = client.call('GET', ds + '.json', what="datastore '%s'" % store)
    if answer is not None:
        parameters = connection_parameters(answer.get('dataStore') or {})
        state['datastore'] = dict((key, str(parameters.get(key))) for key in COMPARED_PARAMETERS)
        listed = client.call('GET', ds + '/featuretypes.json', what="feature types of datastore '%s'" % store)
        for name in _names(listed, 'featureTypes', 'featureType'):
            feature = client.call('GET', '%s/featuretypes/%s.json' % (ds, quoted(name)), what="dataset '%s'" % name)
            feature = (feature or {}).get('featureType') or {}
            state['featuretypes'][name] = {'title': feature.get('title'), 'srs': feature.get('srs')}
    listed = client.call('GET', ws + '/coveragestores.json', what="coverage stores of workspace '%s'" % workspace)
    for name in _names(listed, 'coverageStores', 'coverageStore'):
        cs = '%s/coveragestores/%s' % (ws, quoted(name))
        found = (client.call('GET', cs + '.json', what="dataset '%s'" % name) or {}).get('coverageStore') or {}
        coverage = client.call('GET', '%s/coverages/%s.json' % (cs, quoted(name)), what="dataset '%s'" % name)
        coverage = None if coverage is None else coverage.get('coverage') or {}
        state['coveragestores'][name] = {
            'url': found.get('url'),
            'coverage': None if coverage is None else {'title': coverage.get('title'),
                                                       'nativeName': coverage.get('nativeName')}}
    return state


# ---------------------------------------------------------------- what to do

def _action(action, kind, name, reason):
    return {'action': action, 'kind': kind, 'name': name, 'reason': reason}


def plan(current, wanted):
    """The actions that make `current` (read_state) what is `wanted` (wanted_state), in the
    order to run them: workspace, datastore, deletions, then creations and updates. Each is
    {action: create|update|delete, kind, name, reason}. Pure: no HTTP."""
    actions = []
    if not current['workspace']:
        actions.append(_action('create', 'workspace', wanted['workspace'], 'no workspace %s' % wanted['workspace']))
    store, datastore = wanted['store'], wanted['datastore']
    if datastore is not None:
        if current['datastore'] is None:
            actions.append(_action('create', 'datastore', store, 'new PostGIS datastore'))
        else:
            differ = ['%s %s -> %s' % (key, current['datastore'].get(key), datastore[key])
                      for key in COMPARED_PARAMETERS if str(current['datastore'].get(key)) != datastore[key]]
            if differ:
                actions.append(_action('update', 'datastore', store, ', '.join(differ)))
    for name in sorted(set(current['featuretypes']) - set(wanted['featuretypes'])):
        actions.append(_action('delete', 'featuretype', name, 'no longer a vector dataset'))
    for name in sorted(set(current['coveragestores']) - set(wanted['coveragestores'])):
        actions.append(_action('delete', 'coveragestore', name, 'no longer a raster dataset'))
    for name, feature in sorted(wanted['featuretypes'].items()):
        found = current['featuretypes'].get(name)
        if found is None:
            actions.append(_action('create', 'featuretype', name, 'new vector dataset'))
        elif found.get('title') != feature['title']:
            actions.append(_action('update', 'featuretype', name,
                                   'title %r -> %r' % (found.get('title'), feature['title'])))
    for name, raster in sorted(wanted['coveragestores'].items()):
        found = current['coveragestores'].get(name)
        if found is None:
            actions.append(_action('create', 'coveragestore', name, 'new raster dataset'))
            actions.append(_action('create', 'coverage', name, 'new raster dataset'))
            continue
        if found.get('url') != raster['url']:
            actions.append(_action('update', 'coveragestore', name,
                                   'file %s -> %s' % (found.get('url'), raster['url'])))
        coverage, wanted_coverage = found.get('coverage'), raster['coverage']
        if coverage is None:
            actions.append(_action('create', 'coverage', name, 'coverage store without its coverage'))
        else:
            differ = ['%s %r -> %r' % (key, coverage.get(key), wanted_coverage[key])
                      for key in ('title', 'nativeName') if coverage.get(key) != wanted_coverage[key]]
            if differ:
                actions.append(_action('update', 'coverage', name, ', '.join(differ)))
    return actions


def published(wanted):
    """The names of the layers published when the plan is applied."""
    return sorted(set(wanted['featuretypes']) | set(wanted['coveragestores']))


# ---------------------------------------------------------------- doing it

def _datastore_body(store, datastore, password):
    parameters = [('host', datastore['host']), ('port', datastore['port']), ('database', datastore['database']),
                  ('user', datastore['user']), ('passwd', password), ('schema', datastore['schema']),
                  ('dbtype', 'postgis'), ('Expose primary keys', 'true')]
    entries = [{'@key': key, '$': str(value)} for key, value in parameters]
    return {'dataStore': {'name': store, 'enabled': True, 'connectionParameters': {'entry': entries}}}


KIND_WORDS = {'featuretype': 'feature type', 'coveragestore': 'coverage store', 'coverage': 'coverage'}


def _request(action, wanted, database_password):
    """(method, path, body, what) of one action."""
    ws = '/rest/workspaces/' + quoted(wanted['workspace'])
    store = wanted['store']
    ds = '%s/datastores/%s' % (ws, quoted(store))
    name, kind, verb = action['name'], action['kind'], action['action']
    if kind == 'workspace':
        return 'POST', '/rest/workspaces', {'workspace': {'name': name}}, "workspace '%s'" % name
    if kind == 'datastore':
        body = _datastore_body(store, wanted['datastore'], database_password)
        if verb == 'create':
            return 'POST', ws + '/datastores', body, "datastore '%s'" % store
        return 'PUT', ds, body, "datastore '%s'" % store
    what = "%s of dataset '%s'" % (KIND_WORDS[kind], name)
    if kind == 'featuretype':
        if verb == 'delete':
            return 'DELETE', '%s/featuretypes/%s?recurse=true' % (ds, quoted(name)), None, what
        feature = wanted['featuretypes'][name]
        if verb == 'update':
            return 'PUT', '%s/featuretypes/%s' % (ds, quoted(name)), {'featureType': {'title': feature['title']}}, what
        body = {'name': name, 'nativeName': name, 'title': feature['title'], 'enabled': True}
        if feature['srs']:
            body['srs'] = feature['srs']
        return 'POST', ds + '/featuretypes', {'featureType': body}, what
    cs = '%s/coveragestores/%s' % (ws, quoted(name))
    if kind == 'coveragestore':
        if verb == 'delete':
            return 'DELETE', cs + '?recurse=true', None, what
        body = {'coverageStore': {'name': name, 'type': 'GeoTIFF', 'enabled': True,
                                  'workspace': wanted['workspace'], 'url': wanted['coveragestores'][name]['url']}}
        return ('POST', ws + '/coveragestores', body, what) if verb == 'create' else ('PUT', cs, body, what)
    coverage = wanted['coveragestores'][name]['coverage']
    if verb == 'create':
        body = {'coverage': {'name': name, 'nativeName': coverage['nativeName'], 'title': coverage['title'],
                             'enabled': True}}
        return 'POST', cs + '/coverages', body, what
    # a new file has a new native coverage name: GeoServer reads the coverage by it
    body = {'coverage': {'title': coverage['title'], 'nativeName': coverage['nativeName'],
                         'nativeCoverageName': coverage['nativeName']}}
    return 'PUT', '%s/coverages/%s' % (cs, quoted(name)), body, what


def apply(client, actions, wanted, database_password=None):
    """Run the actions of a plan in order; GeoServerError at the first one GeoServer refuses
    (what was done before it stays done; the next run plans the rest)."""
    for action in actions:
        method, path, body, what = _request(action, wanted, database_password)
        client.call(method, path, body, what=what)


def hide(text, secrets):
    """`text` without any of the `secrets` in it."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


def publish(client, workspace, store, layers, database=None, rasters_path='/var/lib/kargo/rasters',
            timeout=300, check_mode=False, wait=wait_until_up):
    """Wait for GeoServer, read, plan and (unless `check_mode`) apply. Returns (actions,
    published names). GeoServerError (or ServiceFailure while waiting) with a message that
    holds neither password."""
    database = dict(database or {})
    secrets = [client.password, database.get('password')]
    try:
        wait(client, timeout)
        wanted = wanted_state(workspace, store, layers, database, rasters_path)
        actions = plan(read_state(client, workspace, store), wanted)
        if not check_mode:
            apply(client, actions, wanted, database.get('password'))
    except ServiceFailure as failure:
        raise ServiceFailure(hide(str(failure), secrets))
    except GeoServerError as error:
        raise GeoServerError(hide(str(error), secrets))
    return actions, published(wanted)
