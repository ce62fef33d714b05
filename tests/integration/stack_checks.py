"""The end-to-end checks of a deployed stack, through its proxy over HTTPS with real
clients (OWSLib, Pillow, a vector tile decoder): shared by the single-host test
(test_stack.py) and the multi-host lab (test_lab.py). `base` is the stack's public URL."""
import io
import math
import ssl
import subprocess

import mapbox_vector_tile
import requests
import urllib3
from owslib.util import Authentication
from owslib.wms import WebMapService
from PIL import Image, ImageStat

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

# Europe in EPSG:3857, where the sample data has many countries.
EUROPE_3857 = (-1500000, 4000000, 3500000, 8500000)


def get(base, path, **kwargs):
    return requests.get(base + path, verify=False, timeout=60, **kwargs)


def tile_xy(lon, lat, zoom):
    """The WMTS (XYZ) tile of a point."""
    n = 2 ** zoom
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def png_variance(content):
    image = Image.open(io.BytesIO(content)).convert('RGB')
    return sum(ImageStat.Stat(image).var)


def qgis_wms(base, path='/qgis/'):
    """The WMS of QGIS Server's default project, or of the project at `path`."""
    return WebMapService(base + path, version='1.3.0', auth=Authentication(verify=False), timeout=60)


def check_qgis_capabilities(base):
    wms = qgis_wms(base)
    assert 'countries' in wms.contents
    assert 'EPSG:3857' in wms['countries'].crsOptions
    get_map_urls = [m['url'] for m in wms.getOperationByName('GetMap').methods]
    assert all(url.startswith(base + '/qgis/') for url in get_map_urls), get_map_urls


def check_qgis_getmap(base):
    picture = qgis_wms(base).getmap(layers=['countries'], srs='EPSG:3857', bbox=EUROPE_3857, size=(256, 256),
                                    format='image/png', transparent=False)
    content = picture.read()
    assert content.startswith(b'\x89PNG'), content[:300]
    assert png_variance(content) > 100


def check_mapproxy_tiles(base):
    capabilities = get(base, '/mapproxy/wmts/1.0.0/WMTSCapabilities.xml')
    assert capabilities.status_code == 200
    assert b'countries' in capabilities.content
    assert (base + '/mapproxy/').encode() in capabilities.content
    # Europe: WMTS level 2 x=2 y=1 (origin top left) is TMS level 1 x=2 y=2 (MapProxy's TMS
    # starts with 2x2 tiles at level 0 and counts y from the south)
    for path in ('/mapproxy/wmts/countries/webmercator/2/2/1.png', '/mapproxy/tms/1.0.0/countries/webmercator/1/2/2.png'):
        tile = get(base, path)
        assert tile.status_code == 200, path
        assert tile.headers['Content-Type'] == 'image/png', path
        assert Image.open(io.BytesIO(tile.content)).size == (256, 256)
        assert png_variance(tile.content) > 100, path


def check_tileserver(base):
    tile = get(base, '/tiles/data/countries/2/2/1.pbf', headers={'Accept-Encoding': 'gzip'})
    assert tile.status_code == 200
    decoded = mapbox_vector_tile.decode(tile.content)
    assert decoded['countries']['features'], decoded.keys()
    # attribute names as in the source GeoPackage (NAME); PostGIS has them lower-cased
    names = set(f['properties'].get('NAME') for f in decoded['countries']['features'])
    assert 'France' in names or 'Germany' in names, sorted(n for n in names if n)[:20]
    style = get(base, '/tiles/styles/countries/style.json').json()
    assert style['version'] == 8
    source_urls = [s.get('url', '') for s in style['sources'].values()]
    assert any(url.startswith(base + '/tiles/') for url in source_urls), source_urls


def check_landing_redirect_and_headers(base, plain_base):
    landing = get(base, '/')
    assert landing.status_code == 200
    for path in ('/qgis/', '/mapproxy/', '/tiles/'):
        assert path in landing.text
    assert landing.headers['Strict-Transport-Security']
    assert landing.headers['X-Content-Type-Options'] == 'nosniff'
    plain = requests.get(plain_base + '/mapproxy/demo/', allow_redirects=False, timeout=30)
    assert plain.status_code == 301
    assert plain.headers['Location'] == base + '/mapproxy/demo/'


# QGIS Server's GetMap of the sample layer over Europe, 256 px: the request of the load runs
GETMAP_256 = ('/qgis/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:3857'
              '&BBOX=-1500000,4000000,3500000,9000000&WIDTH=256&HEIGHT=256&FORMAT=image/png')
EVERY_CHECK = (check_qgis_capabilities, check_qgis_getmap, check_mapproxy_tiles, check_tileserver)


def certificate_settings(folder, name):
    """A new self-signed certificate (CN localhost) and its key in `folder`, as the
    settings that give them to the proxy."""
    paths = (str(folder / (name + '.crt')), str(folder / (name + '.key')))
    made = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                           '-days', '30', '-subj', '/CN=localhost', '-keyout', paths[1], '-out', paths[0]],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return {'proxy_tls_certificate_file': paths[0], 'proxy_tls_key_file': paths[1]}


def serves_certificate(host, port, pem):
    """Whether the proxy at host:port presents the certificate `pem` (PEM text)."""
    served = ssl.get_server_certificate((host, port))
    return ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(pem)
