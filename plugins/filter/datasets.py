# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the datasets (module_utils/datasets.py): a loaded dataset as a layer of QGIS
Server's project; what its MapProxy cache is seeded for; its TileServer GL entries and style."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import (qgis_layer, seed_ids, seeds_due, tileserver_entries,
                                                                          tileserver_style_files)


def qgis_dataset_layer(layer, sources, pg_service, schema):
    return qgis_layer(layer, sources, pg_service, schema)


def dataset_seed_ids(sources, seed_settings):
    return seed_ids(sources, seed_settings)


def dataset_seeds_due(mark_results, layers, ids):
    return seeds_due(mark_results, layers, ids)


def dataset_tileserver_entries(layers):
    return tileserver_entries(layers)


def dataset_tileserver_style_files(layers):
    return tileserver_style_files(layers)


class FilterModule(object):
    def filters(self):
        return {'qgis_dataset_layer': qgis_dataset_layer, 'dataset_seed_ids': dataset_seed_ids,
                'dataset_seeds_due': dataset_seeds_due, 'dataset_tileserver_entries': dataset_tileserver_entries,
                'dataset_tileserver_style_files': dataset_tileserver_style_files}
