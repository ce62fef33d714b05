# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the datasets (module_utils/datasets.py): a loaded dataset as a layer of QGIS
Server's project; what its MapProxy cache is seeded for; its TileServer GL entries and style."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import (qgis_layer, seed_ids, tileserver_entries,
                                                                          tileserver_style_files)


class FilterModule(object):
    def filters(self):
        return {'qgis_dataset_layer': qgis_layer, 'dataset_seed_ids': seed_ids,
                'dataset_tileserver_entries': tileserver_entries, 'dataset_tileserver_style_files': tileserver_style_files}
