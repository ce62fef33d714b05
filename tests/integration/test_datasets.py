"""The user's own data (kargo_datasets) published by a stack on this host (compose mode):
files made here (GeoJSON with mixed single and multi polygons, a NULL geometry and
non-ASCII text; a CSV in EPSG:3857; a two-layer GeoPackage in EPSG:2154; a zipped
Shapefile; a GeoTIFF, reprojected), loaded into PostGIS (the raster made a COG) by site.yml, served by QGIS Server through the proxy
(WMS, WFS, OGC API Features), cached by MapProxy (WMTS) and as vector tiles by
TileServer GL, through the proxy, read with Pillow, a vector tile decoder, requests and
psql."""
import html
import json
import math
import os
import re
import shutil
import subprocess
import zipfile
from xml.sax.saxutils import escape

import mapbox_vector_tile
import pytest
from PIL import Image

import browser
from kargo_testlib import built_names, container_ids, engine, run_playbook
from load_runs import run_wrk
from stack_checks import get, png_variance, qgis_wms, tile_xy

PREFIX = 'kargo-data'
ROOT_DIR = '/tmp/kargo-data'
HTTPS_PORT = 19443
BASE = 'https://localhost:%d' % HTTPS_PORT
SCHEMA = 'kargo_data'
SERVICES = ('postgis', 'qgis-server', 'mapproxy', 'tileserver-gl', 'proxy')

# Lyon, where every dataset here is (EPSG:4326)
PARK = [[4.84, 45.77], [4.86, 45.77], [4.86, 45.79], [4.84, 45.79], [4.84, 45.77]]
PARKS = [
    ({'name': "Parc de la Tête d'Or"}, {'type': 'Polygon', 'coordinates': [PARK]}),
    ({'name': 'Łazienki Królewskie'}, {'type': 'MultiPolygon', 'coordinates': [
        [[[4.80, 45.74], [4.82, 45.74], [4.82, 45.76], [4.80, 45.74]]],
        [[[4.88, 45.74], [4.90, 45.74], [4.90, 45.76], [4.88, 45.74]]]]}),
    ({'name': 'Ohne Geometrie: Ä'}, None),
]
# EPSG:3857 around the parks, and far from them (the Pacific)
OVER_DATA_3857 = (530000, 5735000, 550000, 5750000)
OUTSIDE_3857 = (-15000000, -1000000, -14000000, 0)


def mercator(lon, lat):
    return lon * 20037508.342789244 / 180, math.log(math.tan((90 + lat) * math.pi / 360)) * 6378137


def feature_collection(features):
    return {'type': 'FeatureCollection',
            'features': [{'type': 'Feature', 'properties': props, 'geometry': geometry} for props, geometry in features]}


def gdal(folder, *argv):
    """ogr2ogr (or another GDAL program) of the tools image, on `folder`; its output."""
    done = subprocess.run(['docker', 'run', '--rm', '--user', '0:0', '--volume', '%s:/w' % folder, '--workdir', '/w',
                           built_names()['tools']] + list(argv), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


# the raster: the park burnt in this colour, transparent (nodata) elsewhere
RELIEF_COLOUR = (200, 120, 40)


def write_relief(folder, colour):
    """relief.tif: a 3-band GeoTIFF in EPSG:4326 over Lyon, the park in `colour`."""
    if os.path.exists(str(folder / 'relief.tif')):
        os.unlink(str(folder / 'relief.tif'))
    gdal(str(folder), 'gdal_rasterize', '-burn', str(colour[0]), '-burn', str(colour[1]), '-burn', str(colour[2]),
         '-init', '0', '-a_nodata', '0', '-ot', 'Byte', '-ts', '200', '200', '-te', '4.80', '45.70', '4.90', '45.80',
         '-a_srs', 'EPSG:4326', 'lakes.geojson', 'relief.tif')


def write_pois(folder, names):
    lines = ['id,name,x,y'] + ['%d,%s,%.2f,%.2f' % ((i + 1, name) + mercator(4.83 + i * 0.01, 45.76))
                                for i, name in enumerate(names)]
    (folder / 'pois.csv').write_text('\n'.join(lines) + '\n', encoding='utf-8')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp('datasets'))


def make_files(folder):
    os.chmod(str(folder), 0o755)
    (folder / 'parks.geojson').write_text(json.dumps(feature_collection(PARKS), ensure_ascii=False), encoding='utf-8')
    write_pois(folder, ['Café Olé', 'Brasserie Georges'])
    (folder / 'rivers.geojson').write_text(json.dumps(feature_collection([
        ({'name': 'Rhône'}, {'type': 'LineString', 'coordinates': [[4.83, 45.70], [4.85, 45.80]]}),
        ({'name': 'Saône'}, {'type': 'LineString', 'coordinates': [[4.81, 45.80], [4.82, 45.74]]})])))
    (folder / 'lakes.geojson').write_text(json.dumps(feature_collection([
        ({'name': 'Grand Large'}, {'type': 'Polygon', 'coordinates': [PARK]})])))
    gdal(str(folder), 'ogr2ogr', '-f', 'GPKG', '-t_srs', 'EPSG:2154', '-nln', 'rivers', 'places.gpkg', 'rivers.geojson')
    gdal(str(folder), 'ogr2ogr', '-f', 'GPKG', '-update', '-t_srs', 'EPSG:2154', '-nln', 'lakes', 'places.gpkg', 'lakes.geojson')
    gdal(str(folder), 'ogr2ogr', '-f', 'ESRI Shapefile', '-lco', 'ENCODING=UTF-8', 'zones.shp', 'lakes.geojson')
    with zipfile.ZipFile(str(folder / 'zones.zip'), 'w') as archive:
        for extension in ('shp', 'shx', 'dbf', 'prj', 'cpg'):
            archive.write(str(folder / ('zones.' + extension)), 'zones.' + extension)
    write_relief(folder, RELIEF_COLOUR)
    make_projects(folder)
    return folder


WGS84 = '<spatialrefsys><proj4>+proj=longlat +datum=WGS84 +no_defs</proj4><authid>EPSG:4326</authid></spatialrefsys>'


def qgis_project(*layers):
    """A QGIS project as QGIS Desktop saves one (WMS in EPSG:3857, every layer in WFS):
    (layer name, provider, datasource, fill colour) per layer, all in EPSG:4326."""
    maplayers = ''.join(
        '<maplayer type="vector" geometry="Polygon"><id>%s_layer_id</id><datasource>%s</datasource>'
        '<layername>%s</layername><srs>%s</srs><provider encoding="UTF-8">%s</provider>'
        '<renderer-v2 type="singleSymbol"><symbols><symbol type="fill" name="0" alpha="1">'
        '<layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">'
        '<Option name="color" type="QString" value="%s"/><Option name="style" type="QString" value="solid"/>'
        '</Option></layer></symbol></symbols></renderer-v2></maplayer>'
        % (name, escape(source), name, WGS84, provider, colour) for name, provider, source, colour in layers)
    tree = ''.join('<layer-tree-layer id="%s_layer_id" name="%s" providerKey="%s" source="%s" checked="Qt::Checked"/>'
                   % (name, name, provider, escape(source, {'"': '&quot;'})) for name, provider, source, _c in layers)
    wfs = ''.join('<value>%s_layer_id</value>' % name for name, _p, _s, _c in layers)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.40.6-Bratislava" projectname="City"><title>City</title>'
            '<projectCrs>%s</projectCrs><layer-tree-group>%s</layer-tree-group><projectlayers>%s</projectlayers>'
            '<properties>'
            '<WMSServiceCapabilities type="bool">true</WMSServiceCapabilities>'
            '<WMSCrsList type="QStringList"><value>EPSG:4326</value><value>EPSG:3857</value></WMSCrsList>'
            '<WFSLayers type="QStringList">%s</WFSLayers></properties></qgis>\n'
            % (WGS84, tree, maplayers, wfs))


def make_projects(folder):
    """city.qgz: a PostGIS layer through the pg_service name (the parks dataset) and a file
    layer (data/lakes.geojson beside it); broken.qgs: a PostGIS layer on a missing table."""
    city = folder / 'city'
    (city / 'data').mkdir(parents=True)
    shutil.copy(str(folder / 'lakes.geojson'), str(city / 'data' / 'lakes.geojson'))
    table = "service='kargo' sslmode=disable key='fid' srid=4326 type=MultiPolygon table=\"kargo_data\".\"%s\" (geom)"
    with zipfile.ZipFile(str(city / 'city.qgz'), 'w') as archive:
        archive.writestr('city.qgs', qgis_project(('parks_db', 'postgres', table % 'parks', '200,30,30,255'),
                                                  ('lakes_file', 'ogr', './data/lakes.geojson', '30,30,200,255')))
    (folder / 'broken.qgs').write_text(qgis_project(('lakes_file', 'ogr', './lakes.geojson', '30,30,200,255'),
                                                    ('gone_db', 'postgres', table % 'gone', '200,30,30,255')))
    (folder / 'not-a-project.qgs').write_text('lakes, not a project')


def projects(folder, *more):
    return [{'name': 'city', 'path': str(folder / 'city' / 'city.qgz')}] + list(more)


def datasets(folder, *more):
    return [{'name': 'parks', 'path': str(folder / 'parks.geojson'), 'title': 'Parcs de Lyon'},
            {'name': 'pois', 'path': str(folder / 'pois.csv'), 'srs': 'EPSG:3857'},
            {'name': 'rivers', 'path': str(folder / 'places.gpkg'), 'layer': 'rivers'},
            {'name': 'zones', 'path': str(folder / 'zones.zip')},
            {'name': 'relief', 'path': str(folder / 'relief.tif'), 'srs': 'EPSG:3857', 'title': 'Relief du parc'}] + list(more)


def settings(folder, *more):
    return {
        'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
        'kargo_http_port': 19080, 'kargo_https_port': HTTPS_PORT,
        'kargo_services': ['postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy'], 'kargo_sample_data': False,
        'kargo_backup_schedule': '', 'kargo_backup_pitr': False,
        'kargo_datasets': datasets(folder, *more), 'qgis_server_projects': projects(folder),
    }


def containers():
    return dict((service, container_ids('%s-%s' % (PREFIX, service))) for service in SERVICES)


def started_at():
    return dict((c.name, c.attrs['State']['StartedAt']) for c in engine().containers.list(
        filters={'label': 'org.geostack.kargo.prefix=%s' % PREFIX}))


def sql(query):
    container = engine().containers.list(filters={'label': 'com.docker.compose.project=%s-postgis' % PREFIX})[0]
    code, output = container.exec_run(['psql', '-h', '127.0.0.1', '-U', 'kargo', '-d', 'gis', '-tAX', '-c', query],
                                      environment={'PGPASSWORD': open(ROOT_DIR + '-secrets/db_password').read().strip()})
    assert code == 0, output
    return output.decode('utf-8').strip()


def loaded_at():
    return json.loads(sql('SELECT json_object_agg(name, loaded_at) FROM %s_state.datasets' % SCHEMA))


def wmts_tile(layer, lon, lat, zoom):
    x, y = tile_xy(lon, lat, zoom)
    answer = get(BASE, '/mapproxy/wmts/%s/webmercator/%d/%d/%d.png' % (layer, zoom, x, y))
    assert answer.status_code == 200 and answer.headers['Content-Type'] == 'image/png', answer.text[:300]
    return answer.content


def vector_tile(layer, lon, lat, zoom, cache=None):
    """The decoded vector tile; `cache`: what the proxy must say it did (HIT or MISS)."""
    x, y = tile_xy(lon, lat, zoom)
    answer = get(BASE, '/tiles/data/%s/%d/%d/%d.pbf' % (layer, zoom, x, y))
    assert answer.status_code == 200, answer.text[:300]
    assert cache is None or answer.headers.get('X-Kargo-Cache') == cache, answer.headers
    return mapbox_vector_tile.decode(answer.content)


def mbtiles_stamps():
    folder = ROOT_DIR + '/tileserver_gl/data'
    return dict((name, open(os.path.join(folder, name)).read()) for name in sorted(os.listdir(folder))
                if name.endswith('.mbtiles.build'))


def mapproxy_exec(command):
    container = engine().containers.list(filters={'label': 'com.docker.compose.project=%s-mapproxy' % PREFIX})[0]
    code, output = container.exec_run(['sh', '-c', command])
    assert code == 0, output
    return output.decode().strip()


def seeded():
    """{dataset: (what its cache was seeded for, the mtime of its seeded level 0 tile)}."""
    found = {}
    for name in ('parks', 'pois', 'rivers', 'zones', 'relief'):
        found[name] = mapproxy_exec('cat /mapproxy/cache/.kargo-seeded-%s; stat -c %%Y '
                                    '/mapproxy/cache/data/%s_cache_EPSG3857/0/0/0.png' % (name, name))
    return found


def getmap(layer, bbox, path='/qgis/'):
    answer = get(BASE, path, params={'SERVICE': 'WMS', 'VERSION': '1.3.0', 'REQUEST': 'GetMap', 'LAYERS': layer,
                                         'STYLES': '', 'CRS': 'EPSG:3857', 'BBOX': ','.join(str(v) for v in bbox),
                                         'WIDTH': 256, 'HEIGHT': 256, 'FORMAT': 'image/png', 'TRANSPARENT': 'false'})
    assert answer.status_code == 200 and answer.content.startswith(b'\x89PNG'), answer.content[:300]
    return answer.content


def wfs_names(layer, path='/qgis/'):
    answer = get(BASE, path, params={'SERVICE': 'WFS', 'VERSION': '1.1.0', 'REQUEST': 'GetFeature', 'TYPENAME': layer,
                                         'OUTPUTFORMAT': 'application/vnd.geo+json'})
    assert answer.status_code == 200, answer.text[:500]
    return sorted(f['properties']['name'] for f in answer.json()['features'])


@pytest.fixture(scope='module')
def stack(data_dir):
    run_playbook('playbooks/remove.yml', dict(settings(data_dir), kargo_remove_volumes=True))
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    first = run_playbook('site.yml', settings(data_dir))
    assert first.rc == 0, first.explain()
    print('\ncold deploy with 4 datasets: %.1f s' % first.seconds)
    yield first
    removed = run_playbook('playbooks/remove.yml', dict(settings(data_dir), kargo_remove_volumes=True))
    assert removed.rc == 0, removed.explain()


def test_each_dataset_is_a_table_of_one_geometry_type_in_its_srid(stack):
    described = sql("SELECT string_agg(f_table_name || ' ' || type || ' ' || srid, ', ' ORDER BY f_table_name) "
                    "FROM geometry_columns WHERE f_table_schema = '%s'" % SCHEMA)
    # parks mixes polygons and multipolygons: promoted; the others keep their single type
    assert described == 'parks MULTIPOLYGON 4326, pois POINT 3857, rivers LINESTRING 2154, zones POLYGON 4326'
    assert sql('SELECT count(*), count(geom) FROM %s.parks' % SCHEMA) == '3|2'
    assert sql("SELECT count(*) FROM pg_indexes WHERE schemaname = '%s' AND indexdef LIKE '%%gist%%'" % SCHEMA) == '4'


def test_wms_lists_every_dataset_and_draws_it_where_it_is(stack):
    wms = qgis_wms(BASE)
    assert set(wms.contents) >= {'parks', 'pois', 'rivers', 'zones'}, list(wms.contents)
    assert wms['parks'].title == 'Parcs de Lyon' and 'EPSG:3857' in wms['pois'].crsOptions
    for name in ('parks', 'pois', 'rivers', 'zones'):
        assert png_variance(getmap(name, OVER_DATA_3857)) > 50, name
        assert png_variance(getmap(name, OUTSIDE_3857)) == 0, name


def test_wfs_and_ogc_api_features_return_the_features_with_their_text_intact(stack):
    assert wfs_names('parks') == sorted(props['name'] for props, _geometry in PARKS)
    assert wfs_names('rivers') == ['Rhône', 'Saône']
    items = get(BASE, '/qgis/wfs3/collections/pois/items.json')
    assert items.status_code == 200, items.text[:500]
    assert sorted(f['properties']['name'] for f in items.json()['features']) == ['Brasserie Georges', 'Café Olé']
    # its links are the public URLs (QGIS builds them from the request the proxy forwarded)
    links = [link['href'] for link in items.json()['links']]
    assert links and all(href.startswith(BASE + '/qgis/wfs3/collections/pois/items') for href in links), links


def test_a_project_of_the_user_is_served_at_its_path_with_its_postgis_and_file_layers(stack):
    wms = qgis_wms(BASE, '/qgis/city/')
    assert set(wms.contents) >= {'parks_db', 'lakes_file'}, list(wms.contents)
    get_map_urls = [m['url'] for m in wms.getOperationByName('GetMap').methods]
    assert all(url.startswith(BASE + '/qgis/city/') for url in get_map_urls), get_map_urls
    for name in ('parks_db', 'lakes_file'):
        assert png_variance(getmap(name, OVER_DATA_3857, '/qgis/city/')) > 50, name
        assert png_variance(getmap(name, OUTSIDE_3857, '/qgis/city/')) == 0, name
    assert wfs_names('lakes_file', '/qgis/city/') == ['Grand Large']
    assert wfs_names('parks_db', '/qgis/city/') == wfs_names('parks')
    collections = get(BASE, '/qgis/city/wfs3/collections.json').json()
    assert sorted(c['id'] for c in collections['collections']) == ['lakes_file', 'parks_db']
    links = [link['href'] for c in collections['collections'] for link in c['links']]
    assert links and all(href.startswith(BASE + '/qgis/city/wfs3/collections/') for href in links), links
    # the default project is still the one at /qgis/
    assert 'parks_db' not in qgis_wms(BASE).contents


def test_no_request_to_a_project_of_the_user_fails_under_load(stack):
    """64 connections for 3 s (loopback, bounded) on a GetMap of both layers of /qgis/city/:
    every answer a 2xx, no socket error."""
    url = (BASE + '/qgis/city/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parks_db,lakes_file&STYLES=&CRS=EPSG:3857'
           '&BBOX=%s&WIDTH=256&HEIGHT=256&FORMAT=image/png' % ','.join(str(v) for v in OVER_DATA_3857))
    measured = run_wrk(url, connections=64, seconds=3)
    print('\n/qgis/city/ GetMap: %d requests, %.0f req/s, p99 %s ms, %d failed'
          % (measured['requests'], measured['rps'], measured['p99_ms'], measured['failed']))
    assert measured['requests'] > 0 and measured['failed'] == 0, measured


def colour_pixels(path, colour, tolerance=40):
    """(x, y) of each pixel of a PNG within `tolerance` of `colour` in every channel."""
    image = Image.open(str(path)).convert('RGB')
    pixels, (width, height) = image.load(), image.size
    return [(x, y) for y in range(height) for x in range(width)
            if all(abs(got - wanted) <= tolerance for got, wanted in zip(pixels[x, y], colour))]


def test_the_landing_page_has_a_card_per_dataset_and_the_map_page_draws_it_in_chromium(stack, tmp_path_factory):
    folder = tmp_path_factory.mktemp('screenshots')
    with browser.page((1000, 1100)) as landing:
        content = browser.load(landing, BASE + '/', '#kargo-datasets[data-loaded]')
        landing.screenshot(path=str(folder / 'landing.png'))
    for name in ('parks', 'pois', 'rivers', 'zones'):
        assert 'id="dataset-%s"' % name in content, content[-3000:]
    card = re.search(r'<article[^>]*id="dataset-parks".*?</article>', content, re.S).group(0)
    assert '<h3>Parcs de Lyon</h3>' in card
    for link in ('/map/#parks', '/qgis/wfs3/collections/parks/items.html', '/mapproxy/wmts/parks/webmercator/0/0/0.png',
                 '/tiles/data/parks.json', 'TYPENAME=parks'):
        assert link in html.unescape(card), card
    # each card's preview draws its layer (a GetMap over the extent its capabilities give)
    for name in ('parks', 'pois', 'rivers', 'zones', 'relief'):
        one = re.search(r'<article[^>]*id="dataset-%s".*?</article>' % name, content, re.S).group(0)
        preview = html.unescape(re.search(r'<img[^>]*src="([^"]+)"', one).group(1))
        assert png_variance(get(BASE, preview).content) > 0, (name, preview)
    # the raster's card: WMS and WMTS, no feature services, no vector tiles
    relief = html.unescape(re.search(r'<article[^>]*id="dataset-relief".*?</article>', content, re.S).group(0))
    assert 'data-kind="raster"' in relief and '<h3>Relief du parc</h3>' in relief, relief
    assert '/mapproxy/wmts/relief/webmercator/0/0/0.png' in relief and 'TYPENAME=' not in relief and '/tiles/' not in relief
    assert 'data-kind="vector"' in card
    raster_map = re.search(r'href="(/map/#relief/[^"]+)"', relief).group(1)
    print('\nscreenshots: %s' % folder)
    # the map: the parks' vector tiles (magenta) over their cached raster tiles, zoomed to
    # them, pictured once the page says every tile is drawn (map.js: body[data-state=ready])
    shot = folder / 'map-parks.png'
    with browser.page((800, 600)) as map_page:
        content = browser.load(map_page, BASE + '/map/#parks', 'body[data-state=ready], body[data-state=error]')
        map_page.screenshot(path=str(shot))
    assert 'data-state="ready"' in content, re.search(r'<div id="status">[^<]*', content).group(0)
    drawn = colour_pixels(shot, (255, 0, 255))
    assert len(drawn) > 500, len(drawn)
    xs, ys = [x for x, _y in drawn], [y for _x, y in drawn]
    # fitted inside the 40 px padding, across most of the map
    assert min(xs) >= 30 and max(xs) <= 770 and min(ys) >= 30 and max(ys) <= 570, (min(xs), max(xs), min(ys), max(ys))
    assert max(xs) - min(xs) > 300 or max(ys) - min(ys) > 300, (min(xs), max(xs), min(ys), max(ys))
    # inside the outlines, the half-transparent magenta is over MapProxy's tiles of the parks
    # (their own colour), not over an empty map: magenta over white is (255, 128, 255)
    assert len(colour_pixels(shot, (255, 128, 255), 20)) < 1000  # (the outlines' antialiased edges)
    image = Image.open(str(shot)).convert('RGB')
    filled = sum(1 for pixel in image.getdata() if min(pixel) < 200 and pixel[1] > 40)
    assert filled > 5000, filled

    # a raster's map (its card's link gives its bounds): MapProxy's cached tiles of it,
    # zoomed to it: the lake burnt in the raster (a tenth of its extent) in its colour,
    # thousands of pixels (a few at a zoom that did not fit the raster), inside the padding
    shot = folder / 'map-relief.png'
    with browser.page((800, 600)) as map_page:
        content = browser.load(map_page, BASE + raster_map, 'body[data-state=ready], body[data-state=error]')
        map_page.screenshot(path=str(shot))
    assert 'data-state="ready"' in content, re.search(r'<div id="status">[^<]*', content).group(0)
    drawn = colour_pixels(shot, RELIEF_COLOUR, 10)
    assert len(drawn) > 2000, len(drawn)
    xs, ys = [x for x, _y in drawn], [y for _x, y in drawn]
    assert min(xs) >= 30 and max(xs) <= 770 and min(ys) >= 30 and max(ys) <= 570, (min(xs), max(xs), min(ys), max(ys))


def test_mapproxy_caches_each_dataset_seeded_inside_its_extent(stack):
    capabilities = get(BASE, '/mapproxy/wmts/1.0.0/WMTSCapabilities.xml').text
    for name in ('parks', 'pois', 'rivers', 'zones'):
        assert '<ows:Identifier>%s</ows:Identifier>' % name in capabilities, name
    assert png_variance(wmts_tile('parks', 4.85, 45.78, 13)) > 50
    assert png_variance(wmts_tile('parks', -150.0, 10.0, 13)) == 0
    # levels 0 to mapproxy_seed_max_level (3) seeded (whole metatiles around Lyon), no more
    listing = mapproxy_exec('cd /mapproxy/cache/data/zones_cache_EPSG3857 && find . -name "*.png" | cut -d/ -f2 | sort | uniq -c')
    levels = dict((level, int(count)) for count, level in (line.split() for line in listing.splitlines()))
    assert sorted(levels) == ['0', '1', '2', '3'], listing
    assert all(marks.split()[0] for marks in seeded().values())


def test_tileserver_serves_each_dataset_as_vector_tiles_with_its_tilejson_and_style(stack):
    decoded = vector_tile('parks', 4.85, 45.78, 13)
    assert "Parc de la Tête d'Or" in [f['properties'].get('name') for f in decoded['parks']['features']]
    rivers = vector_tile('rivers', 4.84, 45.75, 10)['rivers']['features']
    assert sorted(f['properties']['name'] for f in rivers) == ['Rhône', 'Saône']
    tilejson = get(BASE, '/tiles/data/pois.json').json()
    assert tilejson['tiles'][0].startswith(BASE + '/tiles/data/pois/'), tilejson
    assert tilejson['maxzoom'] == 14
    style = get(BASE, '/tiles/styles/zones/style.json').json()
    assert style['version'] == 8 and [l['source-layer'] for l in style['layers']] == ['zones', 'zones']
    assert sorted(mbtiles_stamps()) == ['parks.mbtiles.build', 'pois.mbtiles.build', 'rivers.mbtiles.build',
                                        'zones.mbtiles.build']


RASTERS_DIR = ROOT_DIR + '/datasets/rasters'


def cogs():
    return sorted(os.listdir(RASTERS_DIR))


def relief_pixels(image_bytes, colour):
    path = ROOT_DIR + '-relief.png'
    with open(path, 'wb') as handle:
        handle.write(image_bytes)
    return len(colour_pixels(path, colour, tolerance=12))


def test_a_raster_is_a_cog_drawn_by_wms_and_cached_by_mapproxy_without_vector_tiles(stack):
    """relief.tif (EPSG:4326, srs EPSG:3857): warped into a COG named after its content,
    which QGIS Server draws where the park is and MapProxy caches; TileServer GL has no
    vector tiles of it."""
    [cog] = cogs()
    assert re.match(r'^relief-[0-9a-f]{12}\.tif$', cog), cog
    info = json.loads(gdal(RASTERS_DIR, 'gdalinfo', '-json', cog))
    assert info['metadata']['IMAGE_STRUCTURE']['LAYOUT'] == 'COG' and info['stac']['proj:epsg'] == 3857, info['metadata']
    wms = qgis_wms(BASE)
    assert wms['relief'].title == 'Relief du parc'
    assert relief_pixels(getmap('relief', OVER_DATA_3857), RELIEF_COLOUR) > 100
    assert png_variance(getmap('relief', OUTSIDE_3857)) == 0
    assert relief_pixels(wmts_tile('relief', 4.85, 45.78, 13), RELIEF_COLOUR) > 100
    assert png_variance(wmts_tile('relief', -150.0, 10.0, 13)) == 0
    assert get(BASE, '/tiles/data/relief.json').status_code == 404
    assert 'relief.mbtiles.build' not in mbtiles_stamps()


def test_a_second_run_changes_nothing(stack, data_dir):
    before, started = containers(), started_at()
    again = run_playbook('site.yml', settings(data_dir))
    assert again.rc == 0, again.explain()
    assert again.stats()['changed'] == 0, again.changed_tasks()
    assert containers() == before and started_at() == started


def test_a_project_with_a_layer_qgis_server_cannot_open_fails_the_run_and_the_served_one_stays(stack, data_dir):
    before = containers()
    bad = run_playbook('playbooks/data.yml', dict(settings(data_dir), qgis_server_projects=projects(
        data_dir, {'name': 'broken', 'path': str(data_dir / 'broken.qgs')})))
    assert bad.rc != 0
    failures = ' '.join(bad.failure_messages())
    assert 'qgis_server_projects (broken): QGIS Server cannot open its layer gone_db: ' in failures, failures
    assert 'lakes_file' not in failures
    assert containers() == before
    # no location for it: /qgis/broken/ is the default project's, as any other path
    assert 'gone_db' not in get(BASE, '/qgis/broken/', params={'SERVICE': 'WMS', 'REQUEST': 'GetCapabilities'}).text
    assert wfs_names('lakes_file', '/qgis/city/') == ['Grand Large']
    bad_entries = run_playbook('playbooks/data.yml', dict(settings(data_dir), qgis_server_projects=projects(
        data_dir, {'name': 'wfs3', 'path': str(data_dir / 'not-a-project.qgs')},
        {'name': 'city', 'path': str(data_dir / 'parks.geojson')})))
    assert bad_entries.rc != 0
    failures = ' '.join(bad_entries.failure_messages())
    assert 'qgis_server_projects[1] (wfs3): name wfs3 is reserved (OGC API Features of the default project' in failures
    assert 'qgis_server_projects[1] (wfs3): path %s/not-a-project.qgs is not a QGIS project: not XML' % data_dir in failures
    assert 'qgis_server_projects[2] (city): path %s/parks.geojson is not a QGIS project (.qgs or .qgz)' % data_dir in failures
    assert bad_entries.stats()['changed'] == 0


def test_check_mode_plans_a_new_project_and_changes_nothing(stack, data_dir):
    """A project added to qgis_server_projects, in check mode: QGIS Server's recreation is
    planned and the project's opening reported; no folder, container or location made."""
    before, folders = containers(), sorted(os.listdir(ROOT_DIR + '/qgis_server/projects'))
    checked = run_playbook('playbooks/data.yml', dict(settings(data_dir), qgis_server_projects=projects(
        data_dir, {'name': 'town', 'path': str(data_dir / 'city' / 'city.qgz')})), options=['--check'])
    assert checked.rc == 0, checked.explain()
    assert ('geostack.kargo.qgis_server : qgis_server | open each new project version with QGIS Server before serving it'
            in checked.changed_tasks()), checked.changed_tasks()
    planned = checked.deploy_plans()[0]
    assert [action for _s, action, _r in planned['%s-qgis-server' % PREFIX]] == ['recreate'], planned
    assert [action for _s, action, _r in planned['%s-mapproxy' % PREFIX]] == ['unchanged'], planned
    assert containers() == before and sorted(os.listdir(ROOT_DIR + '/qgis_server/projects')) == folders
    assert 'parks_db' not in get(BASE, '/qgis/town/', params={'SERVICE': 'WMS', 'REQUEST': 'GetCapabilities'}).text


def test_a_changed_raster_is_made_a_new_cog_served_and_cached_at_once_and_the_old_one_goes(stack, data_dir):
    """A new COG (the project points to it, so QGIS Server is the container recreated),
    its cache reseeded, the old COG removed; no table reloaded, no vector tiles rebuilt.
    The new file stays: it is what the later runs serve."""
    new_colour = (40, 120, 200)
    assert relief_pixels(wmts_tile('relief', 4.85, 45.78, 13), new_colour) == 0
    [old_cog], loaded, seeds, stamps, before = cogs(), loaded_at(), seeded(), mbtiles_stamps(), containers()
    write_relief(data_dir, new_colour)
    changed = run_playbook('playbooks/data.yml', settings(data_dir))
    assert changed.rc == 0, changed.explain()
    [new_cog] = cogs()
    assert new_cog != old_cog
    assert loaded_at() == loaded and mbtiles_stamps() == stamps
    now = containers()
    assert [service for service in SERVICES if now[service] != before[service]] == ['qgis-server']
    assert relief_pixels(getmap('relief', OVER_DATA_3857), new_colour) > 100
    assert relief_pixels(wmts_tile('relief', 4.85, 45.78, 13), new_colour) > 100
    reseeded = seeded()
    assert [name for name in sorted(seeds) if reseeded[name] != seeds[name]] == ['relief']


def test_a_changed_file_reloads_its_table_its_cache_and_its_tiles_only(stack, data_dir):
    """The new point's WMTS tile, cached blank before, shows it at once: the dataset's cache
    was dropped and seeded again; the other caches were not touched. Its vector tiles are
    made again (the others not), and TileServer GL, which keeps its MBTiles open, is the
    one container recreated."""
    assert png_variance(wmts_tile('pois', 4.85, 45.76, 15)) == 0
    vector_tile('pois', 4.85, 45.76, 14)
    kept = vector_tile('pois', 4.85, 45.76, 14, cache='HIT')['pois']['features']
    assert 'Bouchon Ça Va' not in [f['properties']['name'] for f in kept]
    before, started, loaded, seeds, stamps = containers(), started_at(), loaded_at(), seeded(), mbtiles_stamps()
    write_pois(data_dir, ['Café Olé', 'Brasserie Georges', 'Bouchon Ça Va'])
    try:
        # check mode says what the run will load and build, and does neither
        checked = run_playbook('playbooks/data.yml', settings(data_dir), options=['--check'])
        assert checked.rc == 0, checked.explain()
        assert 'geostack.kargo.datasets : datasets | load the changed datasets into PostGIS (kargo-data)' in checked.changed_tasks()
        assert ('geostack.kargo.datasets : datasets | build the vector tiles of the changed datasets (kargo-data tiles)'
                in checked.changed_tasks())
        planned = checked.deploy_plans()[0]
        assert [action for _s, action, _r in planned['%s-qgis-server' % PREFIX]] == ['unchanged'], planned
        assert [action for _s, action, _r in planned['%s-mapproxy' % PREFIX]] == ['unchanged'], planned
        assert [action for _s, action, _r in planned['%s-tileserver-gl' % PREFIX]] == ['recreate'], planned
        assert loaded_at() == loaded and mbtiles_stamps() == stamps and containers() == before
        changed = run_playbook('playbooks/data.yml', settings(data_dir))
        assert changed.rc == 0, changed.explain()
        after = loaded_at()
        assert [name for name in sorted(after) if after[name] != loaded[name]] == ['pois']
        now = containers()
        assert [service for service in SERVICES if now[service] != before[service]] == ['tileserver-gl']
        assert dict((n, t) for n, t in started_at().items() if 'tileserver' not in n) == dict(
            (n, t) for n, t in started.items() if 'tileserver' not in n)
        rebuilt = mbtiles_stamps()
        assert [name for name in sorted(rebuilt) if rebuilt[name] != stamps[name]] == ['pois.mbtiles.build']
        # the proxy dropped the tiles it kept: the new tile, from the new MBTiles
        points = vector_tile('pois', 4.85, 45.76, 14, cache='MISS')['pois']['features']
        assert 'Bouchon Ça Va' in [f['properties']['name'] for f in points]
        items = get(BASE, '/qgis/wfs3/collections/pois/items.json').json()
        assert 'Bouchon Ça Va' in [f['properties']['name'] for f in items['features']]
        assert png_variance(wmts_tile('pois', 4.85, 45.76, 15)) > 1  # a small point: blank is 0
        reseeded = seeded()
        assert [name for name in sorted(seeds) if reseeded[name] != seeds[name]] == ['pois']
    finally:
        write_pois(data_dir, ['Café Olé', 'Brasserie Georges'])


def test_bad_entries_are_refused_on_the_controller_before_anything_runs(stack, data_dir):
    bad = run_playbook('playbooks/data.yml', settings(data_dir, {'name': 'Lakes', 'path': str(data_dir / 'nope.gpkg')},
                                                       {'name': 'parks', 'path': str(data_dir / 'lakes.geojson')}))
    assert bad.rc != 0
    failures = ' '.join(bad.failure_messages())
    assert "kargo_datasets[5] (Lakes): name 'Lakes' is not a lower-case identifier" in failures
    assert 'kargo_datasets[5] (Lakes): path %s/nope.gpkg is not a file on the controller' % data_dir in failures
    assert 'kargo_datasets[6] (parks): name parks is used twice (also kargo_datasets[0])' in failures
    assert bad.stats()['changed'] == 0


def test_files_gdal_cannot_load_are_refused_before_any_load_and_the_data_stays_served(stack, data_dir):
    (data_dir / 'broken.gpkg').write_bytes(b'this is no GeoPackage')
    (data_dir / 'broken.tif').write_bytes(b'II*\x00 and then no TIFF')
    served_cogs = cogs()
    loaded = loaded_at()
    bad = run_playbook('playbooks/data.yml', settings(
        data_dir, {'name': 'broken', 'path': str(data_dir / 'broken.gpkg')},
        {'name': 'lakes', 'path': str(data_dir / 'places.gpkg'), 'layer': 'nope'},
        {'name': 'reprojected', 'path': str(data_dir / 'lakes.geojson'), 'srs': 'EPSG:999999'},
        {'name': 'both', 'path': str(data_dir / 'places.gpkg')},
        {'name': 'scan', 'path': str(data_dir / 'broken.tif')}))
    assert bad.rc != 0
    failures = ' '.join(bad.failure_messages())
    assert 'broken: GDAL cannot open it' in failures, failures
    assert 'lakes: has no layer nope (its layers: rivers, lakes)' in failures, failures
    assert 'reprojected: srs EPSG:999999 is not an SRS GDAL knows' in failures, failures
    assert 'both: has 2 layers (rivers, lakes): name one with layer' in failures, failures
    assert 'scan: GDAL cannot open it' in failures, failures
    assert loaded_at() == loaded and cogs() == served_cogs
    assert wfs_names('parks') == sorted(props['name'] for props, _geometry in PARKS)


def test_state_absent_drops_the_table_and_unpublishes_it(stack, data_dir):
    entries = settings(data_dir)
    entries['kargo_datasets'][3] = {'name': 'zones', 'state': 'absent'}
    dropped = run_playbook('playbooks/data.yml', entries)
    assert dropped.rc == 0, dropped.explain()
    assert sql("SELECT to_regclass('%s.zones') IS NULL" % SCHEMA) == 't'
    capabilities = get(BASE, '/qgis/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities').text
    assert '<Name>zones</Name>' not in capabilities and '<Name>parks</Name>' in capabilities
    # its cached tiles are dropped: the proxy (which answers cached tiles from their files)
    # serves none of them any more
    assert '.kargo-seeded-zones' not in mapproxy_exec('ls -A /mapproxy/cache').split()
    assert 'zones_cache_EPSG3857' not in mapproxy_exec('ls /mapproxy/cache/data').split()
    assert get(BASE, '/mapproxy/wmts/zones/webmercator/0/0/0.png').status_code != 200
    again = run_playbook('playbooks/data.yml', entries)
    assert again.rc == 0 and again.stats()['changed'] == 0, again.changed_tasks()
