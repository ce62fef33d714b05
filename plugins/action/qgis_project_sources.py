# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""geostack.kargo.qgis_project_sources: the qgis_server_projects entries checked and
described on the controller, where their files are (module_utils/qgis_projects.py says how)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.geostack.kargo.plugins.module_utils.qgis_projects import read_projects


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('projects', 'base_dir', 'reserved'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars or {})
        args = self._task.args
        projects, errors = read_projects(args.get('projects'), str(args.get('base_dir') or '.'),
                                         dict(args.get('reserved') or {}))
        result.update(changed=False, projects=projects, errors=errors)
        if errors:
            result.update(failed=True, msg='; '.join(errors))
        else:
            result['msg'] = '%d QGIS projects checked' % len(projects)
        return result
