# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the swarm nodes carrying a label (module_utils/node_labels.py), e.g.
kargo_swarm_nodes | geostack.kargo.nodes_labelled(hostvars, 'kargo.backup_repository')."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.node_labels import nodes_labelled


class FilterModule(object):
    def filters(self):
        return {'nodes_labelled': nodes_labelled}
