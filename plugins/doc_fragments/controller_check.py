# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes of a check of the user's input run on the controller alone (an action
    # plugin whose module file holds only its documentation).
    DOCUMENTATION = r'''
attributes:
  action:
    support: full
    details: Everything happens on the controller; nothing runs on the target.
  check_mode:
    support: full
    description: Checks in check mode too; it never changes anything.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Changes nothing, ever.
'''
