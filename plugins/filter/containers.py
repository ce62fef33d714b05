# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of roles/common/tasks/running_containers.yml: a service's running containers,
each on its node (module_utils/service_containers.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.service_containers import running_containers


class FilterModule(object):
    def filters(self):
        return {'running_containers': running_containers}
