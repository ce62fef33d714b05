"""The swarm nodes that carry a label (module_utils/node_labels.py)."""
from ansible_collections.geostack.kargo.plugins.module_utils.node_labels import nodes_labelled

HOSTVARS = {
    'node1': {'ansible_host': '10.0.0.1'},
    'node2': {'kargo_node_labels': {'kargo.postgis': 'true', 'kargo.geoserver': 'true'}},
    'node3': {'kargo_node_labels': {'kargo.backup_repository': True}},
    'node4': {'kargo_node_labels': {'kargo.backup_repository': 'false', 'kargo.postgis': 'True'}},
    'node5': {'kargo_node_labels': None},
}
NODES = ['node1', 'node2', 'node3', 'node4', 'node5']


def test_the_nodes_whose_label_is_true_in_inventory_order():
    assert nodes_labelled(NODES, HOSTVARS, 'kargo.postgis') == ['node2', 'node4']
    assert nodes_labelled(NODES, HOSTVARS, 'kargo.backup_repository') == ['node3']
    assert nodes_labelled(list(reversed(NODES)), HOSTVARS, 'kargo.postgis') == ['node4', 'node2']


def test_no_node_carries_a_label_nobody_set():
    assert nodes_labelled(NODES, HOSTVARS, 'kargo.nowhere') == []
    assert nodes_labelled([], HOSTVARS, 'kargo.postgis') == []
