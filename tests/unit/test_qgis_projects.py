"""The qgis_server_projects entries checked on the controller (module_utils/qgis_projects.py),
with real project files."""
import os
import zipfile

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.qgis_projects import read_projects

RESERVED = {'wfs3': 'OGC API Features of the default project'}


def project_xml(*layers):
    """A small QGIS project: (layer name, provider, datasource) per layer."""
    maplayers = ''.join('<maplayer type="vector"><id>%s_1</id><datasource>%s</datasource><layername>%s</layername>'
                        '<provider encoding="UTF-8">%s</provider></maplayer>' % (name, source, name, provider)
                        for name, provider, source in layers)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis projectname="" version="3.40.1-Bratislava"><title>t</title>'
            '<projectlayers>%s</projectlayers></qgis>\n' % maplayers)


POSTGRES = ('roads', 'postgres', "service='kargo' key='fid' table=\"kargo_data\".\"roads\" (geom)")
LAKES = ('lakes', 'ogr', './places.gpkg|layername=lakes')
RIVERS = ('rivers', 'ogr', './data/rivers.shp')


@pytest.fixture
def folder(tmp_path):
    (tmp_path / 'places.gpkg').write_bytes(b'SQLite format 3\0')
    (tmp_path / 'data').mkdir()
    for extension in ('shp', 'dbf', 'shx', 'prj'):
        (tmp_path / 'data' / ('rivers.' + extension)).write_bytes(b'x' + extension.encode())
    (tmp_path / 'data' / 'other.dbf').write_bytes(b'not a sidecar')
    (tmp_path / 'map.qgs').write_text(project_xml(POSTGRES, LAKES, RIVERS))
    return tmp_path


def make_qgz(path, members):
    with zipfile.ZipFile(str(path), 'w') as archive:
        for name, text in members.items():
            archive.writestr(name, text)


def errors_of(entries, folder):
    return read_projects(entries, str(folder), RESERVED)[1]


def test_a_good_qgs_is_described_with_its_layers_and_files(folder):
    projects, errors = read_projects([{'name': 'parks', 'path': 'map.qgs'}], str(folder), RESERVED)
    assert errors == []
    project = projects[0]
    assert sorted(project) == ['files', 'folder', 'layers', 'name', 'path', 'project_file', 'sha256']
    assert project['folder'] == 'parks-' + project['sha256'][:12]
    assert project['name'] == 'parks' and project['path'] == str(folder / 'map.qgs') and project['project_file'] == 'map.qgs'
    assert project['layers'] == [{'id': 'roads_1', 'name': 'roads', 'provider': 'postgres'},
                                 {'id': 'lakes_1', 'name': 'lakes', 'provider': 'ogr'},
                                 {'id': 'rivers_1', 'name': 'rivers', 'provider': 'ogr'}]
    assert project['files'] == [{'src': str(folder / src), 'dest': dest} for src, dest in [
        ('map.qgs', 'map.qgs'), ('data/rivers.dbf', 'data/rivers.dbf'), ('data/rivers.prj', 'data/rivers.prj'),
        ('data/rivers.shp', 'data/rivers.shp'), ('data/rivers.shx', 'data/rivers.shx'), ('places.gpkg', 'places.gpkg')]]
    assert len(project['sha256']) == 64


def test_a_good_qgz_is_read_from_its_one_qgs(folder):
    make_qgz(folder / 'map.qgz', {'map.qgs': project_xml(LAKES, LAKES), 'map.qgd': 'aux', 'old/other.qgs': 'x'})
    projects, errors = read_projects([{'name': 'lakes', 'path': str(folder / 'map.qgz')}], '/elsewhere')
    assert errors == []
    assert projects[0]['project_file'] == 'map.qgz'
    assert [one['dest'] for one in projects[0]['files']] == ['map.qgz', 'places.gpkg']
    assert projects[0]['layers'] == [{'id': 'lakes_1', 'name': 'lakes', 'provider': 'ogr'}] * 2


@pytest.mark.parametrize('source', [
    '/srv/gis/lakes.gpkg|layername=lakes',
    '/vsizip//srv/gis/lakes.zip/lakes.shp',
    'https://example.org/lakes.geojson',
    'GPKG:./missing.gpkg:lakes',
])
def test_a_file_on_the_server_or_a_url_is_left_alone(folder, source):
    (folder / 'map.qgs').write_text(project_xml(('lakes', 'ogr', source), ('dem', 'gdal', '/srv/dem.tif')))
    projects, errors = read_projects([{'name': 'parks', 'path': 'map.qgs'}], str(folder))
    assert errors == [] and [one['dest'] for one in projects[0]['files']] == ['map.qgs']


def test_the_hash_follows_the_bytes_of_the_data_files(folder):
    def digest():
        return read_projects([{'name': 'parks', 'path': 'map.qgs'}], str(folder))[0][0]['sha256']
    first = digest()
    assert digest() == first
    (folder / 'data' / 'rivers.dbf').write_bytes(b'changed')
    assert digest() != first


@pytest.mark.parametrize('entry, message', [
    ({'name': 'Parks', 'path': 'map.qgs'}, "qgis_server_projects[0] (Parks): name 'Parks' is not a lower-case identifier "
                                           '(a-z, 0-9, _; starting with a letter; at most 63)'),
    ({'name': '1parks', 'path': 'map.qgs'}, "qgis_server_projects[0] (1parks): name '1parks' is not a lower-case identifier "
                                            '(a-z, 0-9, _; starting with a letter; at most 63)'),
    ({'name': 'wfs3', 'path': 'map.qgs'}, 'qgis_server_projects[0] (wfs3): name wfs3 is reserved '
                                          '(OGC API Features of the default project)'),
    ({'name': 'parks', 'path': 'missing.qgs'}, 'qgis_server_projects[0] (parks): path %(dir)s/missing.qgs is not a file '
                                               'on the controller'),
    ({'name': 'parks', 'path': 'places.gpkg'}, 'qgis_server_projects[0] (parks): path %(dir)s/places.gpkg is not a QGIS '
                                               'project (.qgs or .qgz)'),
    ({'name': 'parks'}, 'qgis_server_projects[0] (parks): path is missing (the .qgs or .qgz file, on the controller)'),
    ({'name': 'parks', 'path': 3}, 'qgis_server_projects[0] (parks): path must be a string, not 3'),
    ({'name': 'parks', 'path': 'map.qgs', 'title': 'Parks'}, 'qgis_server_projects[0] (parks): unknown key title '
                                                             '(known: name, path)'),
    ('map.qgs', "qgis_server_projects[0]: must be a mapping with name and path, not 'map.qgs'"),
])
def test_a_bad_entry_is_refused_naming_the_project_and_why(folder, entry, message):
    projects, errors = read_projects([entry], str(folder), RESERVED)
    assert projects == [] and errors == [message % {'dir': folder}]


def test_a_file_that_is_not_a_project_is_refused_saying_why(folder):
    (folder / 'notes.qgs').write_text('just some notes\n')
    (folder / 'page.QGS').write_text('<!DOCTYPE html><html><body/></html>')
    (folder / 'plain.qgz').write_text('not a zip')
    make_qgz(folder / 'empty.qgz', {'readme.txt': 'x', 'inside/map.qgs': project_xml()})
    make_qgz(folder / 'two.qgz', {'a.qgs': project_xml(), 'b.qgs': project_xml()})
    make_qgz(folder / 'bad.qgz', {'map.qgs': '<qgis>'})
    entries = [{'name': name, 'path': name + extension} for name, extension in [
        ('notes', '.qgs'), ('page', '.QGS'), ('plain', '.qgz'), ('empty', '.qgz'), ('two', '.qgz'), ('bad', '.qgz')]]
    assert errors_of(entries, folder) == [
        'qgis_server_projects[0] (notes): path %s/notes.qgs is not a QGIS project: not XML: syntax error: line 1, column 0' % folder,
        'qgis_server_projects[1] (page): path %s/page.QGS is not a QGIS project: its root element is html, not qgis' % folder,
        'qgis_server_projects[2] (plain): path %s/plain.qgz is not a QGIS project: not a zip archive' % folder,
        'qgis_server_projects[3] (empty): path %s/empty.qgz is not a QGIS project: holds no .qgs' % folder,
        'qgis_server_projects[4] (two): path %s/two.qgz is not a QGIS project: holds 2 .qgs (a.qgs, b.qgs), not one' % folder,
        'qgis_server_projects[5] (bad): path %s/bad.qgz is not a QGIS project: not XML: no element found: line 1, column 6'
        % folder]


def test_a_layer_reading_outside_the_folder_or_a_missing_file_is_refused(folder):
    (folder.parent / 'outside.gpkg').write_bytes(b'x')
    (folder / 'map.qgs').write_text(project_xml(
        LAKES, ('outside', 'ogr', '../outside.gpkg|layername=x'), ('sneaky', 'gdal', 'data/../../outside.gpkg'),
        ('gone', 'ogr', 'data/gone.gpkg|layername=gone'), ('rivers', 'ogr', 'data/rivers.shp')))
    projects, errors = read_projects([{'name': 'parks', 'path': 'map.qgs'}], str(folder))
    assert projects == [] and errors == [
        "qgis_server_projects[0] (parks): layer outside reads ../outside.gpkg, outside the project's folder: "
        'keep the files a project reads beside or below it',
        "qgis_server_projects[0] (parks): layer sneaky reads data/../../outside.gpkg, outside the project's folder: "
        'keep the files a project reads beside or below it',
        'qgis_server_projects[0] (parks): layer gone reads data/gone.gpkg, which is not a file on the controller']


def test_every_reason_of_every_bad_entry_is_reported_at_once(folder):
    (folder / 'broken.qgs').write_text(project_xml(('gone', 'ogr', 'gone.gpkg')))
    errors = errors_of([{'name': 'Bad', 'path': 'missing.qgz', 'style': 'x'},
                        {'name': 'parks', 'path': 'map.qgs'},
                        {'name': 'wfs3', 'path': 'broken.qgs'},
                        {'name': 'parks', 'path': 'map.qgs'}], folder)
    assert errors == [
        'qgis_server_projects[0] (Bad): unknown key style (known: name, path)',
        "qgis_server_projects[0] (Bad): name 'Bad' is not a lower-case identifier (a-z, 0-9, _; starting with a letter; "
        'at most 63)',
        'qgis_server_projects[0] (Bad): path %s/missing.qgz is not a file on the controller' % folder,
        'qgis_server_projects[2] (wfs3): name wfs3 is reserved (OGC API Features of the default project)',
        'qgis_server_projects[2] (wfs3): layer gone reads gone.gpkg, which is not a file on the controller',
        'qgis_server_projects[3] (parks): name parks is used twice (also qgis_server_projects[1])']


def test_not_a_list_is_refused():
    assert read_projects({'name': 'x'}, '.') == ([], ["qgis_server_projects: must be a list of {name, path}, not {'name': 'x'}"])
    assert read_projects([], '.') == ([], [])
