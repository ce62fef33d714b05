"""The whole stack on this host (compose mode), deployed by site.yml, checked through the
proxy over HTTPS with real clients: OWSLib, Pillow, a vector tile decoder, psql."""
import io
import os
import shutil
import subprocess

import mapbox_vector_tile
import pytest
import requests
import urllib3
from owslib.util import Authentication
from owslib.wms import WebMapService
from PIL import Image, ImageStat

from kargo_testlib import container_ids, engine, run_playbook

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

PREFIX = 'kargo-e2e'
ROOT_DIR = '/tmp/kargo-e2e'
HTTPS_PORT = 18443
HTTP_PORT = 18080
BASE = 'https://localhost:%d' % HTTPS_PORT
SETTINGS = {
    'kargo_prefix': PREFIX,
    'kargo_root': ROOT_DIR,
    'kargo_secrets_dir': ROOT_DIR + '-secrets',
    'kargo_http_port': HTTP_PORT,
    'kargo_https_port': HTTPS_PORT,
}
# The compose projects of the stack here (GeoServer is skipped: no image).
SERVICES = ('postgis', 'qgis-server', 'mapproxy', 'tileserver-gl', 'proxy')
# Europe in EPSG:3857, where the sample data has many countries.
EUROPE_3857 = (-1500000, 4000000, 3500000, 8500000)


def project(service):
    return '%s-%s' % (PREFIX, service)


def containers_by_service():
    return dict((service, container_ids(project(service))) for service in SERVICES)


def site(**more):
    return run_playbook('site.yml', dict(SETTINGS, **more))


def get(path, **kwargs):
    return requests.get(BASE + path, verify=False, timeout=60, **kwargs)


def png_variance(content):
    image = Image.open(io.BytesIO(content)).convert('RGB')
    return sum(ImageStat.Stat(image).var)


@pytest.fixture(scope='module')
def stack():
    """A cold deploy (previous e2e deployment and its volumes removed first); removed at the end."""
    run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    first = site()
    assert first.rc == 0, first.explain()
    print('\ncold deploy (images present): %.1f s' % first.seconds)
    yield first
    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    assert removed.rc == 0, removed.explain()


def test_every_enabled_service_runs_healthy(stack):
    for service in SERVICES:
        containers = engine().containers.list(filters={'label': 'com.docker.compose.project=%s' % project(service)})
        assert containers, service
        for container in containers:
            assert container.attrs['State']['Health']['Status'] == 'healthy', (service, container.name)


def test_postgis_answers_a_spatial_query_on_the_sample_rows(stack):
    query = ("SELECT name FROM countries WHERE ST_Intersects(geom, ST_SetSRID(ST_Point(2.35, 48.85), 4326));"
             "SELECT count(*) FROM countries;")
    container = engine().containers.list(filters={'label': 'com.docker.compose.project=%s' % project('postgis')})[0]
    exit_code, output = container.exec_run(['psql', '-h', '127.0.0.1', '-U', 'kargo', '-d', 'gis', '-tA', '-c', query],
                                           environment={'PGPASSWORD': open(SETTINGS['kargo_secrets_dir'] + '/db_password').read().strip()})
    lines = output.decode().split()
    assert exit_code == 0, output
    assert lines[0] == 'France'
    assert int(lines[1]) > 200


def test_qgis_wms_capabilities_list_the_layer(stack):
    wms = WebMapService(BASE + '/qgis/', version='1.3.0', auth=Authentication(verify=False), timeout=60)
    assert 'countries' in wms.contents
    assert 'EPSG:3857' in wms['countries'].crsOptions
    get_map_urls = [m['url'] for m in wms.getOperationByName('GetMap').methods]
    assert all(url.startswith(BASE + '/qgis/') for url in get_map_urls), get_map_urls


def test_qgis_getmap_returns_a_picture_of_the_data(stack):
    wms = WebMapService(BASE + '/qgis/', version='1.3.0', auth=Authentication(verify=False), timeout=60)
    picture = wms.getmap(layers=['countries'], srs='EPSG:3857', bbox=EUROPE_3857, size=(256, 256),
                         format='image/png', transparent=False)
    content = picture.read()
    assert content.startswith(b'\x89PNG'), content[:300]
    assert png_variance(content) > 100


def test_mapproxy_serves_wmts_and_tms_tiles(stack):
    capabilities = get('/mapproxy/wmts/1.0.0/WMTSCapabilities.xml')
    assert capabilities.status_code == 200
    assert b'countries' in capabilities.content
    assert (BASE + '/mapproxy/').encode() in capabilities.content
    # Europe: WMTS level 2 x=2 y=1 (origin top left) is TMS level 1 x=2 y=2 (MapProxy's TMS
    # starts with 2x2 tiles at level 0 and counts y from the south)
    for path in ('/mapproxy/wmts/countries/webmercator/2/2/1.png', '/mapproxy/tms/1.0.0/countries/webmercator/1/2/2.png'):
        tile = get(path)
        assert tile.status_code == 200, path
        assert tile.headers['Content-Type'] == 'image/png', path
        assert Image.open(io.BytesIO(tile.content)).size == (256, 256)
        assert png_variance(tile.content) > 100, path


def test_tileserver_serves_a_vector_tile_and_its_style(stack):
    tile = get('/tiles/data/countries/2/2/1.pbf', headers={'Accept-Encoding': 'gzip'})
    assert tile.status_code == 200
    decoded = mapbox_vector_tile.decode(tile.content)
    assert decoded['countries']['features'], decoded.keys()
    # attribute names as in the source GeoPackage (NAME); PostGIS has them lower-cased
    names = set(f['properties'].get('NAME') for f in decoded['countries']['features'])
    assert 'France' in names or 'Germany' in names, sorted(n for n in names if n)[:20]
    style = get('/tiles/styles/countries/style.json').json()
    assert style['version'] == 8
    source_urls = [s.get('url', '') for s in style['sources'].values()]
    assert any(url.startswith(BASE + '/tiles/') for url in source_urls), source_urls


def test_proxy_landing_page_redirect_and_headers(stack):
    landing = get('/')
    assert landing.status_code == 200
    for path in ('/qgis/', '/mapproxy/', '/tiles/'):
        assert path in landing.text
    assert landing.headers['Strict-Transport-Security']
    assert landing.headers['X-Content-Type-Options'] == 'nosniff'
    plain = requests.get('http://localhost:%d/mapproxy/demo/' % HTTP_PORT, allow_redirects=False, timeout=30)
    assert plain.status_code == 301
    assert plain.headers['Location'] == BASE + '/mapproxy/demo/'


def test_swarm_overlays_are_valid_compose(stack):
    for service in sorted(os.listdir(ROOT_DIR)):
        folder = os.path.join(ROOT_DIR, service)
        if not os.path.exists(os.path.join(folder, 'compose.swarm.yml')):
            continue
        checked = subprocess.run(['docker', 'compose', '-f', 'compose.yml', '-f', 'compose.swarm.yml', 'config', '-q'],
                                 cwd=folder, capture_output=True, text=True)
        assert checked.returncode == 0, (service, checked.stderr)


def test_geoserver_is_skipped_without_an_archive(stack):
    pytest.skip('GeoServer has no Debian, PyPI or npm package and no registry is reachable here: '
                'its image is only built from an archive given in images_geoserver_archive')


def test_second_run_changes_nothing(stack):
    before = containers_by_service()
    again = site()
    assert again.rc == 0, again.explain()
    print('\nno-op re-run: %.1f s' % again.seconds)
    assert again.stats()['changed'] == 0, again.changed_tasks()
    assert containers_by_service() == before


def test_one_mapproxy_setting_restarts_mapproxy_only(stack):
    before = containers_by_service()
    changed = site(mapproxy_meta_size=[2, 2])
    assert changed.rc == 0, changed.explain()
    after = containers_by_service()
    assert after['mapproxy'] != before['mapproxy']
    others = [s for s in SERVICES if s != 'mapproxy']
    assert dict((s, after[s]) for s in others) == dict((s, before[s]) for s in others)
    assert png_variance(get('/mapproxy/tms/1.0.0/countries/webmercator/1/2/2.png').content) > 100
    restored = site()
    assert restored.rc == 0, restored.explain()
