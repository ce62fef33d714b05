# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of the backup repository's tasks: the fingerprint pgBackRest checks the
repository's SSH host key against (module_utils/ssh_keys.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.ssh_keys import host_key_fingerprint


class FilterModule(object):
    def filters(self):
        return {'ssh_host_key_fingerprint': host_key_fingerprint}
