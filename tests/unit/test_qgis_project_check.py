"""What QGIS Server says of a project it opened (module_utils/qgis_project_check.py): the
CGI answer and the log are those of qgis_mapserv.fcgi 3.40 in the QGIS Server image."""
from ansible_collections.geostack.kargo.plugins.module_utils.qgis_project_check import (
    bad_layer_names, cgi_answer, check_argv, provider_reasons, verdict)

PROJECT = {'name': 'parks', 'folder': 'parks-0123456789ab', 'project_file': 'map.qgs',
           'layers': [{'id': 'roads_1', 'name': 'roads'}, {'id': 'lakes_2', 'name': 'lakes'},
                      {'id': 'trees_3', 'name': 'trees'}]}
REFUSED = ('Content-Length: 93\nContent-Type: text/xml; charset=utf-8\n'
           'Server:  QGIS FCGI server - QGIS version 3.40.6-Bratislava\nStatus:  500\n\n'
           '<?xml version="1.0" encoding="UTF-8"?>\n<ServerException>Layer(s) not valid</ServerException>\n')
LOG = '''Application path not initialized
04:32:50 WARNING FCGIServer[1]: FCGI_stdout is null! Socket monitoring disabled.
04:32:50 WARNING PostGIS[1]: Connection to database failed
service file "/etc/qgis-server/pg_service.conf" not found

04:32:50 WARNING PostGIS[1]: Connection to database failed
service file "/etc/qgis-server/pg_service.conf" not found

04:32:50 WARNING OGR[1]: Cannot open /etc/qgis-server/projects/parks-0123456789ab/nope.gpkg.()
04:32:50 CRITICAL Server[1]: Error, Layer(s) trees_3, roads_1 not valid in project /etc/qgis-server/projects/parks-0123456789ab/map.qgs
04:32:50 WARNING Server[1]: <?xml version="1.0" encoding="UTF-8"?>
<ServerException>Layer(s) not valid</ServerException>
'''
SERVED = ('Content-Type: text/xml; charset=utf-8\n\n<?xml version="1.0"?>\n'
          '<WMS_Capabilities version="1.3.0"><Service/></WMS_Capabilities>\n')


def test_the_project_is_opened_where_the_service_opens_it_with_bad_layers_not_ignored():
    argv = check_argv(PROJECT, 'kargo/qgis:1', 'kargo-back', '/opt/kargo/qgis_server/projects',
                      '/etc/qgis-server/projects', '/opt/kargo/qgis_server/pg_service.conf', 'kargo')
    assert argv[:4] == ['run', '--rm', '--network', 'kargo-back'] and argv[-1] == 'kargo/qgis:1'
    assert ('/opt/kargo/qgis_server/projects/parks-0123456789ab:/etc/qgis-server/projects/parks-0123456789ab:ro'
            in argv)
    assert '/opt/kargo/qgis_server/pg_service.conf:/etc/qgis-server/pg_service.conf:ro' in argv
    assert 'QGIS_PROJECT_FILE=/etc/qgis-server/projects/parks-0123456789ab/map.qgs' in argv
    assert 'QGIS_SERVER_IGNORE_BAD_LAYERS=false' in argv
    assert argv[argv.index('--entrypoint') + 1] == '/usr/lib/cgi-bin/qgis_mapserv.fcgi'


def test_the_cgi_status_is_read_from_its_headers():
    assert cgi_answer(REFUSED)[0] == 500
    assert cgi_answer(REFUSED)[1].strip().endswith('</ServerException>')
    assert cgi_answer(SERVED.replace('\n', '\r\n'))[0] == 200


def test_the_bad_layers_are_named_in_project_order_from_their_ids():
    assert bad_layer_names(LOG, PROJECT['layers']) == ['roads', 'trees']
    assert bad_layer_names('nothing bad', PROJECT['layers']) == []


def test_the_providers_reasons_are_kept_once_each_with_their_continuation_lines():
    assert provider_reasons(LOG) == [
        'Connection to database failed service file "/etc/qgis-server/pg_service.conf" not found',
        'Cannot open /etc/qgis-server/projects/parks-0123456789ab/nope.gpkg.()']


def test_the_verdict_names_the_project_its_layers_and_why():
    assert verdict(PROJECT, SERVED, '') is None
    assert verdict(PROJECT, REFUSED, LOG) == (
        'qgis_server_projects (parks): QGIS Server cannot open its layers roads, trees: Connection to database '
        'failed service file "/etc/qgis-server/pg_service.conf" not found; '
        'Cannot open /etc/qgis-server/projects/parks-0123456789ab/nope.gpkg.()')


def test_another_refusal_says_what_qgis_server_answered():
    answer = 'Status: 500\n\n<ServerException>Project file error</ServerException>\n'
    assert verdict(PROJECT, answer, '') == (
        'qgis_server_projects (parks): QGIS Server answers 500 to a GetCapabilities of it: '
        '<ServerException>Project file error</ServerException>')
