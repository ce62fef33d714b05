# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swarm nodes of the inventory that carry a label (host var kargo_node_labels)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def nodes_labelled(nodes, hostvars, label):
    """The hosts of `nodes` (in their order) whose kargo_node_labels give `label` the
    value true (true, "true", "True": labels are strings to swarm)."""
    labelled = []
    for host in nodes:
        labels = hostvars[host].get('kargo_node_labels') or {}
        if str(labels.get(label, '')).lower() == 'true':
            labelled.append(host)
    return labelled
