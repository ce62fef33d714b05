"""MapProxy's caches (module_utils/mapproxy_caches.py): the containers found on each node
with their seed marks and cache folders; what to seed; what to drop."""
from ansible_collections.geostack.kargo.plugins.module_utils.mapproxy_caches import (running_containers, seeds_due,
                                                                                 stale_caches)

NODE1_READ = {'item': 'node1', 'stdout_lines': [
    'container c1 kargo-mapproxy_mapproxy.1.task1 task1',
    '/mapproxy/cache/.kargo-seeded:main-id',
    '/mapproxy/cache/.kargo-seeded-parks:parks-id',
    '/mapproxy/cache/.kargo-seeded-Bad-Name:x',
    'cache countries_cache_EPSG3857',
    'cache parks_cache_EPSG3857',
    # the replica of the task before it, still serving its last requests
    'container c0 kargo-mapproxy_mapproxy.1.task0 task0',
    '/mapproxy/cache/.kargo-seeded:main-id']}
NODE2_READ = {'item': 'node2', 'stdout_lines': ['container c2 kargo-mapproxy_mapproxy.2.task2 task2']}


def test_each_running_container_is_found_on_its_node_with_its_marks_and_caches():
    found = running_containers([NODE1_READ, NODE2_READ, {'item': 'node3', 'stdout_lines': []}], ['task1', 'task2'])
    assert found == [
        {'node': 'node1', 'id': 'c1', 'name': 'kargo-mapproxy_mapproxy.1.task1', 'seeded_for': 'main-id',
         'datasets': {'parks': 'parks-id'}, 'caches': ['countries_cache_EPSG3857', 'parks_cache_EPSG3857']},
        {'node': 'node2', 'id': 'c2', 'name': 'kargo-mapproxy_mapproxy.2.task2', 'seeded_for': '', 'datasets': {},
         'caches': []}]


def test_compose_mode_keeps_every_container_it_finds():
    read = {'item': 'localhost', 'stdout_lines': ['container c1 kargo-mapproxy-mapproxy-1', 'cache parks_cache_EPSG3857']}
    assert [(one['id'], one['caches']) for one in running_containers([read])] == [('c1', ['parks_cache_EPSG3857'])]


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
