# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""geostack.kargo.qgis_project_sources: the qgis_server_projects entries checked and
described on the controller, where their files are (module_utils/qgis_projects.py says how)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.qgis_projects import read_projects
from ansible_collections.geostack.kargo.plugins.plugin_utils.entry_check import EntryCheckAction


class ActionModule(EntryCheckAction):

    _VALID_ARGS = frozenset(('projects', 'base_dir', 'reserved'))
    ENTRIES, WHAT = 'projects', 'QGIS projects'
    read = staticmethod(read_projects)
