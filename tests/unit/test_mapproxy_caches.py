"""MapProxy's caches (module_utils/mapproxy_caches.py): the containers found on each node
with their seed marks and cache folders; what to seed; what to drop."""
from ansible_collections.geostack.kargo.plugins.module_utils.mapproxy_caches import read_caches, seeds_due, stale_caches

def test_each_container_s_cache_is_read_from_its_lines():
    containers = [{'node': 'node1', 'id': 'c1', 'name': 'kargo-mapproxy_mapproxy.1.t1', 'lines': [
        '/mapproxy/cache/.kargo-seeded:main-id',
        '/mapproxy/cache/.kargo-seeded-parks:parks-id',
        '/mapproxy/cache/.kargo-seeded-Bad-Name:x',
        'cache countries_cache_EPSG3857',
        'cache parks_cache_EPSG3857']},
        {'node': 'node2', 'id': 'c2', 'name': 'kargo-mapproxy_mapproxy.2.t2', 'lines': []}]
    assert read_caches(containers) == [
        {'node': 'node1', 'id': 'c1', 'name': 'kargo-mapproxy_mapproxy.1.t1', 'seeded_for': 'main-id',
         'datasets': {'parks': 'parks-id'}, 'caches': ['countries_cache_EPSG3857', 'parks_cache_EPSG3857']},
        {'node': 'node2', 'id': 'c2', 'name': 'kargo-mapproxy_mapproxy.2.t2', 'seeded_for': '', 'datasets': {},
         'caches': []}]


def test_the_caches_seeded_for_another_id_are_due_in_each_container():
    layers = [{'name': 'a'}, {'name': 'b'}]
    ids = {'a': 'id-a', 'b': 'id-b'}
    containers = [{'id': 'one', 'datasets': {'a': 'id-a', 'b': 'old'}}, {'id': 'two', 'datasets': {}}]
    due = seeds_due(containers, layers, ids)
    assert [(one['container']['id'], one['dataset']['name']) for one in due] == [('one', 'b'), ('two', 'a'), ('two', 'b')]
    assert seeds_due(containers[:1], layers[:1], ids) == []


def test_the_caches_of_layers_no_longer_published_are_dropped_with_their_marks():
    folders = ['countries_cache_EPSG3857', 'old_pois_cache_EPSG3857', 'old_pois_cache_EPSG4326', 'parks_cache_EPSG3857',
               'lost+found']
    assert stale_caches(folders, ['countries', 'parks']) == [
        '/mapproxy/cache/data/old_pois_cache_EPSG3857', '/mapproxy/cache/data/old_pois_cache_EPSG4326',
        '/mapproxy/cache/.kargo-seeded-old_pois']
    assert stale_caches(folders[:1], ['countries']) == []
