# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the mapproxy role: its running containers with what their caches hold, the
datasets' caches due for seeding, the caches of layers no longer published
(module_utils/mapproxy_caches.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.mapproxy_caches import read_caches, seeds_due, stale_caches


class FilterModule(object):
    def filters(self):
        return {'mapproxy_read_caches': read_caches, 'mapproxy_seeds_due': seeds_due,
                'mapproxy_stale_caches': stale_caches}
