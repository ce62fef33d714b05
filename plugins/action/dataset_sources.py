# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""geostack.kargo.dataset_sources: the kargo_datasets entries checked and described on the
controller, where their files are (module_utils/datasets.py says how)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import read_datasets
from ansible_collections.geostack.kargo.plugins.plugin_utils.entry_check import EntryCheckAction


class ActionModule(EntryCheckAction):

    _VALID_ARGS = frozenset(('datasets', 'base_dir', 'reserved'))
    ENTRIES, WHAT = 'datasets', 'datasets'
    read = staticmethod(read_datasets)
