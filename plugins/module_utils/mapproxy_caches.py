# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MapProxy's caches, one per running container: a compose project has one, a swarm
service one per node it runs on (the cache volume is local to its node). Each cache
holds the tiles of every cached layer (<root>/data/<layer>_cache_<grid>) and marks of
what it was seeded for: <root>/.kargo-seeded (the main layer: the seeding
configuration's checksum) and <root>/.kargo-seeded-<dataset> (a dataset's seed id).
The role reads every container's marks and folders at once (roles/mapproxy/tasks/
caches.yml); these functions decide what to seed and what to drop."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import NAME_PATTERN

ROOT = '/mapproxy/cache'
MARK = '/.kargo-seeded'


def read_caches(containers):
    """Each running container (roles/common/tasks/running_containers.yml) with what its
    cache holds, read from its `lines` (its seed marks as `<path>:<id>`, its cache folders
    as `cache <folder>`): {node, id, name, seeded_for, datasets, caches}."""
    found = []
    for container in containers:
        cache = {'node': container['node'], 'id': container['id'], 'name': container['name'], 'seeded_for': '',
                 'datasets': {}, 'caches': []}
        for line in container.get('lines') or []:
            if line.startswith('cache '):
                cache['caches'].append(line[len('cache '):].strip())
            else:
                _read_mark(line, cache)
        found.append(cache)
    return found


def _read_mark(line, container):
    path, _, mark = line.partition(':')
    if path == ROOT + MARK:
        container['seeded_for'] = mark.strip()
        return
    name = path.rpartition(MARK + '-')[2]
    if path.startswith(ROOT + MARK + '-') and NAME_PATTERN.match(name):
        container['datasets'][name] = mark.strip()


def seeds_due(containers, layers, ids):
    """[{container, dataset}] for each loaded dataset (`layers`) whose cache in a container
    was not seeded for its current id (`ids`: {dataset name: seed id})."""
    return [{'container': container, 'dataset': layer} for container in containers for layer in layers
            if container['datasets'].get(layer['name']) != ids.get(layer['name'])]


def stale_caches(cache_folders, layer_names, root=ROOT):
    """The paths of MapProxy's caches (and seed marks) of layers it no longer has, to drop:
    `cache_folders` are the names in <root>/data (<layer>_cache_<grid>, as mapproxy.yaml
    names the caches); the tiles of an unpublished dataset are then not served any more
    (the proxy answers cached tiles from these files)."""
    folders = [folder for folder in sorted(cache_folders)
               if '_cache_' in folder and folder.rpartition('_cache_')[0] not in layer_names]
    layers = sorted(set(folder.rpartition('_cache_')[0] for folder in folders))
    return ['%s/data/%s' % (root, folder) for folder in folders] + ['%s%s-%s' % (root, MARK, layer) for layer in layers]
