"""A service's running containers, found on each node (module_utils/service_containers.py)."""
from ansible_collections.geostack.kargo.plugins.module_utils.service_containers import running_containers

NODE1_READ = {'item': 'node1', 'stdout_lines': [
    'container c1 kargo-proxy_proxy.1.task1 task1',
    'what the read printed',
    # the container of the task before it, still serving its last requests
    'container c0 kargo-proxy_proxy.1.task0 task0',
    'its own lines']}
NODE2_READ = {'item': 'node2', 'stdout_lines': ['container c2 kargo-proxy_proxy.2.task2 task2']}


def test_the_containers_of_the_tasks_meant_to_run_are_found_on_their_node_with_their_lines():
    found = running_containers([NODE1_READ, NODE2_READ, {'item': 'node3', 'stdout_lines': []}], ['task1', 'task2'])
    assert found == [{'node': 'node1', 'id': 'c1', 'name': 'kargo-proxy_proxy.1.task1', 'lines': ['what the read printed']},
                     {'node': 'node2', 'id': 'c2', 'name': 'kargo-proxy_proxy.2.task2', 'lines': []}]


def test_compose_mode_keeps_every_container_it_finds():
    read = {'item': 'localhost', 'stdout_lines': ['container c1 kargo-proxy-proxy-1', 'a line']}
    assert running_containers([read]) == [{'node': 'localhost', 'id': 'c1', 'name': 'kargo-proxy-proxy-1',
                                           'lines': ['a line']}]
