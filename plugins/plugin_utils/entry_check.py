# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of a list of the user's entries checked on the controller, where their files
are (kargo_datasets, qgis_server_projects): `read(entries, base_dir, reserved)` describes
the good ones and names every bad one; the task fails with all of them at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class EntryCheckAction(ActionBase):
    """Subclasses set ENTRIES (the argument and the result's key) and WHAT (in the message),
    and `read`, a staticmethod of module_utils."""

    TRANSFERS_FILES = False
    ENTRIES = WHAT = None

    def run(self, tmp=None, task_vars=None):
        result = super(EntryCheckAction, self).run(tmp, task_vars or {})
        args = self._task.args
        described, errors = self.read(args.get(self.ENTRIES), str(args.get('base_dir') or '.'),
                                      dict(args.get('reserved') or {}))
        result.update({'changed': False, self.ENTRIES: described, 'errors': errors})
        if errors:
            result.update(failed=True, msg='; '.join(errors))
        else:
            result['msg'] = '%d %s checked' % (len(described), self.WHAT)
        return result
