# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the datasets: a loaded dataset as a layer of QGIS Server's project
(module_utils/datasets.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import qgis_layer


def qgis_dataset_layer(layer, sources, pg_service, schema):
    return qgis_layer(layer, sources, pg_service, schema)


class FilterModule(object):
    def filters(self):
        return {'qgis_dataset_layer': qgis_dataset_layer}
