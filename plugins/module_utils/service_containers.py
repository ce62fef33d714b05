# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The running containers of a service, found on each node that may run one
(roles/common/tasks/running_containers.yml): a compose project has its containers on its
host, a swarm stack a task's container on each node it runs on. A role acts on each of
them on its node: MapProxy seeds each replica's cache, the proxy reloads each nginx."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CONTAINER_LINE = 'container '


def running_containers(node_reads, running_tasks=None):
    """[{node, id, name, lines}] of the containers found on each node. `node_reads` are the
    reads of the nodes (the node as `item`; stdout lines: `container <id> <name> <swarm
    task id>`, then what the command run in that container printed, its `lines`).
    `running_tasks`: in swarm mode the ids of the stack's tasks meant to run; a container of
    another task is one being stopped (it serves its last requests), left alone."""
    found = []
    for read in node_reads:
        container = None
        for line in read.get('stdout_lines') or []:
            if line.startswith(CONTAINER_LINE):
                fields = line[len(CONTAINER_LINE):].split()
                container = {'node': read['item'], 'id': fields[0], 'name': fields[1], 'lines': []}
                task = fields[2] if len(fields) > 2 else ''
                if running_tasks is None or task in running_tasks:
                    found.append(container)
            elif container is not None:
                container['lines'].append(line)
    return found
