"""The pure parts of the datasets: the entries checked on the controller
(module_utils/datasets.py) and the loader's decisions (roles/datasets/files/kargo_data.py)."""
import importlib.util
import os

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import qgis_layer, read_datasets, seed_ids

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location('kargo_data', os.path.join(ROOT, 'roles', 'datasets', 'files', 'kargo_data.py'))
kargo_data = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(kargo_data)

QML = ('<!DOCTYPE qgis><qgis version="3.40"><renderer-v2 type="singleSymbol"><symbols/></renderer-v2></qgis>')


@pytest.fixture
def files(tmp_path):
    (tmp_path / 'roads.geojson').write_text('{"type": "FeatureCollection", "features": []}')
    for extension in ('shp', 'dbf', 'shx', 'prj'):
        (tmp_path / ('parks.' + extension)).write_bytes(b'x' + extension.encode())
    (tmp_path / 'other.dbf').write_bytes(b'not a sidecar')
    (tmp_path / 'style.qml').write_text(QML)
    return tmp_path


def test_a_good_entry_is_described_with_its_files_and_hash(files):
    datasets, errors = read_datasets([{'name': 'parks', 'path': 'parks.shp', 'title': 'Parks'},
                                      {'name': 'roads', 'path': str(files / 'roads.geojson'), 'style': 'style.qml'}],
                                     str(files))
    assert errors == []
    parks, roads = datasets
    assert [os.path.basename(path) for path in parks['files']] == ['parks.dbf', 'parks.prj', 'parks.shp', 'parks.shx']
    assert parks['source'] == '/data/parks/parks.shp' and parks['title'] == 'Parks'
    assert roads['title'] == 'roads' and roads['renderer'].startswith('<renderer-v2 type="singleSymbol">')
    assert len(parks['sha256']) == 64 and parks['sha256'] != roads['sha256']


def test_the_hash_follows_the_bytes_and_the_load_options_only(files):
    def digest(**entry):
        return read_datasets([dict({'name': 'roads', 'path': 'roads.geojson'}, **entry)], str(files))[0][0]['sha256']
    first = digest()
    assert digest(title='Other title') == first
    assert digest(srs='EPSG:3857') != first
    assert digest(layer='roads') != first
    (files / 'roads.geojson').write_text('{"type": "FeatureCollection", "features": [] }')
    assert digest() != first


def test_a_zip_is_read_through_vsizip(files):
    (files / 'parks.zip').write_bytes(b'PK')
    datasets, errors = read_datasets([{'name': 'parks', 'path': 'parks.zip'}], str(files))
    assert errors == [] and datasets[0]['source'] == '/vsizip//data/parks/parks.zip'


@pytest.mark.parametrize('entry, message', [
    ({'name': 'Roads', 'path': 'roads.geojson'}, "kargo_datasets[0] (Roads): name 'Roads' is not a lower-case identifier"),
    ({'name': '1roads', 'path': 'roads.geojson'}, "name '1roads' is not a lower-case identifier"),
    ({'name': 'countries', 'path': 'roads.geojson'}, 'kargo_datasets[0] (countries): name countries is taken by the sample layer'),
    ({'name': 'roads', 'path': 'missing.gpkg'}, 'kargo_datasets[0] (roads): path %(dir)s/missing.gpkg is not a file on the controller'),
    ({'name': 'roads'}, 'kargo_datasets[0] (roads): path is missing'),
    ({'name': 'roads', 'path': 'style.qml'}, 'is not a file kind it publishes'),
    ({'name': 'roads', 'path': 'roads.geojson', 'srs': 'webmercator'}, 'srs webmercator is not an authority code like EPSG:3857'),
    ({'name': 'roads', 'path': 'roads.geojson', 'style': 'roads.geojson'}, 'style %(dir)s/roads.geojson is not XML'),
    ({'name': 'roads', 'path': 'roads.geojson', 'style': 'nope.qml'}, 'style %(dir)s/nope.qml is not a file on the controller'),
    ({'name': 'roads', 'path': 'roads.geojson', 'colour': 'red'}, 'unknown key colour'),
    ({'name': 'roads', 'path': 'roads.geojson', 'state': 'gone'}, "state 'gone' is not present or absent"),
    ('roads.geojson', "kargo_datasets[0]: must be a mapping with name and path, not 'roads.geojson'"),
])
def test_a_bad_entry_is_refused_naming_the_dataset_and_why(files, entry, message):
    datasets, errors = read_datasets([entry], str(files), {'countries': 'the sample layer'})
    assert any(message % {'dir': files} in error for error in errors), errors


def test_a_qml_that_is_not_a_style_and_a_shapefile_without_sidecars_are_refused(files):
    (files / 'map.qml').write_text('<html><body/></html>')
    (files / 'empty.qml').write_text('<qgis version="3.40"/>')
    os.unlink(str(files / 'parks.shx'))
    _, errors = read_datasets([{'name': 'a', 'path': 'roads.geojson', 'style': 'map.qml'},
                               {'name': 'b', 'path': 'roads.geojson', 'style': 'empty.qml'},
                               {'name': 'c', 'path': 'parks.shp'}], str(files))
    assert errors == ['kargo_datasets[0] (a): style %s/map.qml is not a QGIS style (its root element is <html>, not <qgis>)' % files,
                      'kargo_datasets[1] (b): style %s/empty.qml has no <renderer-v2> (no symbology of a vector layer to apply)' % files,
                      'kargo_datasets[2] (c): the Shapefile %s/parks.shp has no .shx beside it' % files]


def test_a_name_used_twice_is_refused_and_every_error_is_reported(files):
    (files / 'dem.tif').write_bytes(b'II*')
    _, errors = read_datasets([{'name': 'roads', 'path': 'roads.geojson'}, {'name': 'roads', 'path': 'parks.shp'},
                               {'name': 'dem', 'path': 'dem.tif', 'layer': 'band1'}], str(files))
    assert errors == ['kargo_datasets[1] (roads): name roads is used twice (also kargo_datasets[0])',
                      'kargo_datasets[2] (dem): layer band1: a raster has bands, not layers (layer is for vector files)']


RASTER_QML = '<!DOCTYPE qgis><qgis version="3.40"><pipe><rasterrenderer type="singlebandgray" grayBand="1"/></pipe></qgis>'


def test_a_raster_becomes_a_cog_named_after_its_hash_with_the_pipe_of_its_style(files):
    (files / 'dem.tif').write_bytes(b'II*\x00 some pixels')
    (files / 'dem.qml').write_text(RASTER_QML)
    datasets, errors = read_datasets([{'name': 'dem', 'path': 'dem.tif', 'style': 'dem.qml'}], str(files))
    assert errors == []
    dem = datasets[0]
    assert dem['kind'] == 'raster' and dem['source'] == '/data/dem/dem.tif'
    assert dem['cog'] == 'dem-%s.tif' % dem['sha256'][:12]
    assert dem['renderer'].startswith('<pipe><rasterrenderer type="singlebandgray"')
    (files / 'dem.tif').write_bytes(b'II*\x00 other pixels')
    assert read_datasets([{'name': 'dem', 'path': 'dem.tif'}], str(files))[0][0]['cog'] != dem['cog']
    # a vector dataset's style is a renderer, a raster's a pipe
    _, errors = read_datasets([{'name': 'dem', 'path': 'dem.tif', 'style': 'style.qml'},
                               {'name': 'roads', 'path': 'roads.geojson', 'style': 'dem.qml'}], str(files))
    assert errors == ['kargo_datasets[0] (dem): style %s/style.qml has no <pipe> (no symbology of a raster layer to apply)' % files,
                      'kargo_datasets[1] (roads): style %s/dem.qml has no <renderer-v2> (no symbology of a vector layer to apply)' % files]
    assert read_datasets([{'name': 'roads', 'path': 'roads.geojson'}], str(files))[0][0]['kind'] == 'vector'


def test_a_raster_is_checked_for_bands_and_an_srs():
    assert kargo_data.raster_checks({'bands': []}, {}) == ('has no raster band', False)
    no_srs = {'bands': [{'band': 1}], 'coordinateSystem': {'wkt': ''}}
    assert kargo_data.raster_checks(no_srs, {})[0].startswith('names no SRS: give the entry an srs')
    assert kargo_data.raster_checks(no_srs, {'srs': 'EPSG:2154'}) == (None, False)
    assert kargo_data.raster_checks({'bands': [{}], 'coordinateSystem': {'wkt': 'GEOGCRS[...]'}}, {}) == (None, True)


def test_a_raster_is_translated_to_a_cog_or_warped_when_srs_reprojects_it():
    dem = {'source': '/data/dem/dem.tif', 'srs': ''}
    assert kargo_data.cog_argv(dem, True, '/rasters/.tmp') == [
        'gdal_translate', '-q', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'BIGTIFF=IF_SAFER', '/data/dem/dem.tif', '/rasters/.tmp']
    assigned = kargo_data.cog_argv(dict(dem, srs='EPSG:2154'), False, '/rasters/.tmp')
    assert assigned[:4] == ['gdal_translate', '-q', '-a_srs', 'EPSG:2154']
    warped = kargo_data.cog_argv(dict(dem, srs='EPSG:3857'), True, '/rasters/.tmp')
    assert warped[:5] == ['gdalwarp', '-q', '-overwrite', '-t_srs', 'EPSG:3857'] and warped[-2:] == ['/data/dem/dem.tif', '/rasters/.tmp']


def test_a_raster_layer_has_its_cog_srid_and_bounds_in_the_entries_order():
    info = {'wgs84Extent': {'type': 'Polygon', 'coordinates': [[[4.8, 45.8], [4.8, 45.7], [4.9, 45.7], [4.9, 45.8], [4.8, 45.8]]]},
            'stac': {'proj:epsg': 3857}, 'coordinateSystem': {'proj4': '+proj=merc +a=6378137 '}, 'bands': [{}, {}, {}],
            'size': [100, 80]}
    dem = {'name': 'dem', 'title': 'Relief', 'cog': 'dem-0123456789ab.tif', 'sha256': '0123456789ab' * 5}
    layer = kargo_data.raster_description(info, dem)
    assert layer == {'name': 'dem', 'kind': 'raster', 'title': 'Relief', 'cog': 'dem-0123456789ab.tif', 'sha256': dem['sha256'],
                     'extent': [4.8, 45.7, 4.9, 45.8], 'srid': 3857, 'proj4': '+proj=merc +a=6378137', 'bands': 3,
                     'size': [100, 80]}
    record = {'name': 'roads', 'geometry_type': 'LINESTRING', 'srid': 4326, 'west': 0, 'south': 0, 'east': 1, 'north': 1,
              'row_count': 2, 'loaded_at': 'now', 'sha256': 'x'}
    wanted = [{'name': 'dem', 'state': 'present', 'kind': 'raster'}, {'name': 'roads', 'state': 'present'},
              {'name': 'gone', 'state': 'present', 'kind': 'raster'}]
    layers = kargo_data.present_layers(wanted, {'roads': record}, {'roads'}, {'dem': layer})
    assert [(one['name'], one['kind']) for one in layers] == [('dem', 'raster'), ('roads', 'vector')]
    # QGIS Server reads it from the mount, through GDAL
    assert qgis_layer(layer, [], 'kargo', 'kargo_data', '/rasters')['datasource'] == '/rasters/dem-0123456789ab.tif'


def test_an_absent_entry_needs_no_file():
    datasets, errors = read_datasets([{'name': 'old', 'state': 'absent'}], '/nowhere')
    assert errors == [] and datasets[0]['state'] == 'absent'


def test_not_a_list_is_refused():
    assert read_datasets({'name': 'x'}, '.')[1] == ["kargo_datasets: must be a list of {name, path} entries, not {'name': 'x'}"]


def test_the_plan_loads_what_changed_or_lost_its_table_and_drops_what_is_absent():
    wanted = [{'name': 'a', 'state': 'present', 'sha256': '1'}, {'name': 'b', 'state': 'present', 'sha256': '2'},
              {'name': 'c', 'state': 'present', 'sha256': '3'}, {'name': 'd', 'state': 'present', 'sha256': '4'},
              {'name': 'e', 'state': 'absent'}, {'name': 'f', 'state': 'absent'}]
    recorded = {'a': {'sha256': '1'}, 'b': {'sha256': 'old'}, 'c': {'sha256': '3'}, 'e': {'sha256': '5'}}
    plan = kargo_data.plan_changes(wanted, recorded, {'a', 'b', 'e'})
    assert plan == {'load': ['b', 'c', 'd'], 'drop': ['e'], 'unchanged': ['a']}


@pytest.mark.parametrize('kinds, target', [
    (['POLYGON'], ('POLYGON', False)),
    (['POLYGON', 'MULTIPOLYGON'], ('MULTIPOLYGON', True)),
    (['MULTILINESTRING'], ('MULTILINESTRING', False)),
    (['POINT'], ('POINT', False)),
])
def test_single_geometries_are_promoted_only_where_the_layer_mixes_them(kinds, target):
    assert kargo_data.geometry_target(kinds) == target


@pytest.mark.parametrize('kinds, message', [
    ([], 'holds no geometry to publish'),
    (['POINT', 'POLYGON'], 'mixes geometry kinds (POINT, POLYGON)'),
    (['GEOMETRYCOLLECTION'], 'mixes geometry kinds (GEOMETRYCOLLECTION)'),
])
def test_a_layer_without_one_kind_of_geometry_is_refused(kinds, message):
    with pytest.raises(kargo_data.Refused, match=message.replace('(', r'\(').replace(')', r'\)')):
        kargo_data.geometry_target(kinds)


def test_srs_options_reproject_or_assign():
    assert kargo_data.srs_options(True, '') == []
    assert kargo_data.srs_options(True, 'EPSG:3857') == ['-t_srs', 'EPSG:3857']
    assert kargo_data.srs_options(False, '') == ['-a_srs', 'EPSG:4326']
    assert kargo_data.srs_options(False, 'EPSG:2154') == ['-a_srs', 'EPSG:2154']


def test_ogr2ogr_loads_one_layer_into_staging_with_a_generic_geometry_column():
    argv = kargo_data.ogr2ogr_argv({'name': 'pois', 'source': '/data/pois/pois.csv', 'layer': 'pois', 'srs': ''},
                                   'kargo_data_staging', False)
    assert argv[:6] == ['ogr2ogr', '-f', 'PostgreSQL', 'PG:', '/data/pois/pois.csv', 'pois']
    assert '-oo' in argv and 'GEOM_POSSIBLE_NAMES=wkt,geom,geometry,the_geom' in argv
    assert argv[argv.index('-nlt') + 1] == 'GEOMETRY' and 'SCHEMA=kargo_data_staging' in argv
    assert argv[-2:] == ['-a_srs', 'EPSG:4326']


SRS_FIELD = {'type': 'Point', 'coordinateSystem': {'wkt': 'x'}}


@pytest.mark.parametrize('info, dataset, answer', [
    ({'layers': [{'name': 'a', 'geometryFields': [SRS_FIELD]}]}, {}, (None, SRS_FIELD)),
    ({'layers': [{'name': 'a', 'geometryFields': [{}]}]}, {}, (None, {})),
    ({'layers': [{'name': 'a'}, {'name': 'b'}]}, {}, ('has 2 layers (a, b): name one with layer', {})),
    ({'layers': [{'name': 'a'}, {'name': 'b'}]}, {'layer': 'c'}, ('has no layer c (its layers: a, b)', {})),
    ({'layers': [{'name': 'a'}, {'name': 'b', 'geometryFields': [SRS_FIELD]}]}, {'layer': 'b'}, (None, SRS_FIELD)),
    ({'layers': [{'name': 'a', 'geometryFields': []}]}, {}, ('layer a has no geometry', {})),
    ({'layers': []}, {}, ('has no vector layer', {})),
])
def test_the_layer_is_chosen_and_checked(info, dataset, answer):
    assert kargo_data.layer_checks(info, dataset) == answer


def test_the_swap_replaces_the_table_and_writes_its_record_in_one_transaction():
    sql = kargo_data.swap_sql(kargo_data.names('kargo_data'), {
        'name': 'roads', 'sha256': 'ab', 'geometry_type': 'MULTILINESTRING', 'srid': 2154,
        'west': 1, 'south': 2, 'east': 3, 'north': None, 'row_count': 7})
    lines = sql.splitlines()
    assert lines[0] == 'BEGIN;' and lines[-1] == 'COMMIT;'
    assert lines[1] == 'DROP TABLE IF EXISTS "kargo_data"."roads";'
    assert lines[2] == 'ALTER TABLE "kargo_data_staging"."roads" SET SCHEMA "kargo_data";'
    assert "VALUES ('roads', 'ab', now(), 'MULTILINESTRING', 2154, 1.0, 2.0, 3.0, NULL, 7)" in lines[3]


def test_a_layer_for_qgis_has_a_stable_id_its_connection_and_its_style():
    layer = kargo_data.layer_description({'name': 'roads', 'geometry_type': 'MULTILINESTRING', 'srid': 2154, 'west': None,
                                          'south': None, 'east': None, 'north': None, 'row_count': 0, 'loaded_at': 't', 'sha256': 'ab'}, 'Roads')
    assert layer['extent'] == [-180.0, -90.0, 180.0, 90.0] and layer['qgis_geometry'] == 'Line'
    described = qgis_layer(layer, [{'name': 'roads', 'renderer': '<renderer-v2/>'}], 'kargo', 'kargo_data', '/rasters')
    assert described['id'].startswith('roads_') and len(described['id']) == 30
    assert described == qgis_layer(layer, [{'name': 'roads', 'renderer': '<renderer-v2/>'}], 'kargo', 'kargo_data', '/rasters')
    assert described['datasource'] == ("service='kargo' sslmode=disable key='fid' srid=2154 type=MultiLineString "
                                       "checkPrimaryKeyUnicity='0' table=\"kargo_data\".\"roads\" (geom)")
    assert described['renderer'] == '<renderer-v2/>' and len(described['colour']) == 6


def test_a_seed_id_follows_the_data_the_style_and_the_cache_settings():
    sources = [{'name': 'a', 'sha256': '1', 'renderer': ''}, {'name': 'b', 'sha256': '2', 'renderer': '<r/>'},
               {'name': 'gone', 'state': 'absent'}]
    ids = seed_ids(sources, {'max_level': 3})
    assert sorted(ids) == ['a', 'b']
    assert seed_ids(sources, {'max_level': 3}) == ids
    assert seed_ids(sources, {'max_level': 4})['a'] != ids['a']
    assert seed_ids([{'name': 'a', 'sha256': '1', 'renderer': '<r/>'}], {'max_level': 3})['a'] != ids['a']


def test_a_vector_style_draws_the_dataset_in_its_colour_by_geometry():
    from ansible_collections.geostack.kargo.plugins.module_utils.datasets import tileserver_entries, tileserver_style
    lines = {'name': 'roads', 'title': 'Roads', 'extent': [4.0, 45.0, 6.0, 47.0], 'qgis_geometry': 'Line'}
    style = tileserver_style(lines)
    assert style['sources'] == {'roads': {'type': 'vector', 'url': 'mbtiles://{roads}'}}
    assert [(l['type'], l['source-layer']) for l in style['layers']] == [('line', 'roads')]
    assert style['layers'][0]['paint']['line-color'] == '#' + qgis_layer(
        dict(lines, srid=4326, qgis_wkb_type='LineString'), [], 'kargo', 'kargo_data', '/rasters')['colour']
    assert style['center'] == [5.0, 46.0]
    assert [l['type'] for l in tileserver_style(dict(lines, qgis_geometry='Polygon'))['layers']] == ['fill', 'line']
    assert [l['type'] for l in tileserver_style(dict(lines, qgis_geometry='Point'))['layers']] == ['circle']
    entries = tileserver_entries([lines])
    assert entries == {'styles': {'roads': {'style': 'roads.json', 'serve_rendered': False,
                                            'tilejson': {'bounds': [4.0, 45.0, 6.0, 47.0]}}},
                       'data': {'roads': {'mbtiles': 'roads.mbtiles'}}}


def test_an_mbtiles_is_made_again_for_other_data_or_zoom_levels():
    stamp = kargo_data.tiles_stamp({'sha256': 'ab'}, {'min_zoom': 0, 'max_zoom': '14'})
    assert stamp == kargo_data.tiles_stamp({'sha256': 'ab'}, {'min_zoom': '0', 'max_zoom': 14})
    assert stamp != kargo_data.tiles_stamp({'sha256': 'cd'}, {'min_zoom': 0, 'max_zoom': 14})
    assert stamp != kargo_data.tiles_stamp({'sha256': 'ab'}, {'min_zoom': 0, 'max_zoom': 12})
    argv = kargo_data.tippecanoe_argv('roads', '/tiles/.tmp-roads.mbtiles', {'min_zoom': 0, 'max_zoom': 14})
    assert argv[:3] == ['tippecanoe', '--output', '/tiles/.tmp-roads.mbtiles'] and '--maximum-zoom' in argv


@pytest.mark.parametrize('source, declared, answer', [
    ('/data/a/a.gpkg', 'Point', 'POINT'),
    ('/data/a/a.gpkg', 'Multi Polygon', 'MULTIPOLYGON'),
    ('/data/a/a.fgb', 'MultiLineString', 'MULTILINESTRING'),
    ('/data/a/a.gpkg', '3D Point', 'POINT'),
    ('/data/a/a.gpkg', 'Point Z', 'POINT'),
    ('/data/a/a.gpkg', 'Unknown (any)', None),
    ('/data/a/a.gpkg', 'Geometry Collection', None),
    ('/data/a/a.shp', 'Polygon', None),
    ('/vsizip//data/a/a.zip', 'Polygon', None),
    ('/data/a/a.geojson', 'Point', None),
])
def test_only_a_strictly_typed_file_is_loaded_as_the_type_it_declares(source, declared, answer):
    assert kargo_data.declared_type(source, {'type': declared}) == answer
    argv = kargo_data.ogr2ogr_argv({'name': 'a', 'source': source, 'srs': ''}, 's', True, answer)
    assert argv[argv.index('-nlt') + 1] == (answer or 'GEOMETRY')
