# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What earlier tasks of a check-mode run would have changed before the deploy
    # (module_utils/compose_sources.py SOURCE_ARGS pending, pending_images).
    DOCUMENTATION = r'''
options:
  pending:
    description:
      - Check mode only, ignored otherwise. Files an earlier task of the run would write before this deploy,
        but did not since it ran in check mode, as a dict of absolute path to C({content, sha256}) (both optional; a file
        without either counts as changed). The compose files and the files the services read are taken from
        here first, so the plan says what the real run will do (a changed settings file recreates the
        services reading it).
      - M(geostack.kargo.render_files) returns exactly this as RV(geostack.kargo.render_files#module:pending) in check mode.
    type: dict
    default: {}
  pending_images:
    description:
      - Check mode only, ignored otherwise. Image references an earlier task of the run would build or pull
        anew; the services running them are planned with C(image changed).
    type: list
    elements: str
    default: []
'''
