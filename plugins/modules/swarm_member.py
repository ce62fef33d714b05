#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: swarm_member
short_description: Make this host a swarm manager or worker (or leave), with the role and node labels the inventory says
version_added: 0.1.0
description:
  - Creates the swarm on the first manager (O(bootstrap=true)), joins other hosts with a join token, or leaves.
  - Unlike community.docker.docker_swarm's C(join), which does nothing when the host is in any swarm, this
    module checks that the host is in the expected swarm (O(cluster_id) on managers, the managers'
    addresses on workers) and fails clearly when it belongs to another one.
  - Reconciles the role (a manager demotes itself; a worker rejoins with a manager token, or is promoted
    from a manager with O(node)) and the node labels (labels no longer listed are removed unless
    O(labels_exclusive=false)).
  - Node labels and roles can only be changed by a manager. For a worker, run a second task delegated to a
    manager with O(node) set to the worker's hostname.
  - Join tokens are never part of the output unless O(return_join_tokens=true); set C(no_log) on that task.
author:
  - geostack.kargo developers
requirements:
  - Docker SDK for Python 7.x on the target
attributes:
  check_mode:
    support: full
    description: Reports the actions it would take (init, join, demote, labels) without taking them.
  diff_mode:
    support: full
    description: Before and after of the node's swarm state, role and labels.
  idempotent:
    support: full
    description: A second run with the same input changes nothing.
options:
  state:
    description: V(present) to be in the swarm with the given role; V(absent) to leave it.
    type: str
    choices: [present, absent]
    default: present
  role:
    description: The role this node (or O(node)) must have.
    type: str
    choices: [manager, worker]
    default: manager
  bootstrap:
    description: When this engine is in no swarm, create one (the first manager only).
    type: bool
    default: false
  remote_addrs:
    description: Addresses of managers to join (C(host) or C(host:2377)); also used to check the swarm of a worker.
    type: list
    elements: str
    default: []
  join_token:
    description: The worker or manager join token (matching O(role)). Never logged.
    type: str
  advertise_addr:
    description: Address advertised to other members (interface name or IP).
    type: str
  listen_addr:
    description: Address the swarm listens on for cluster management.
    type: str
    default: 0.0.0.0:2377
  data_path_addr:
    description: Address used for data path (overlay) traffic.
    type: str
  cluster_id:
    description: The swarm this host must belong to; a manager in another swarm makes the task fail.
    type: str
  node:
    description:
      - Hostname or ID of another node to reconcile (role, labels, availability) from this manager,
        instead of this host's own membership.
    type: str
  labels:
    description: Node labels wanted. Unset leaves labels alone.
    type: dict
  labels_exclusive:
    description: Remove labels that O(labels) does not list.
    type: bool
    default: true
  availability:
    description: Node availability.
    type: str
    choices: [active, pause, drain]
  force:
    description: With O(state=absent), leave even as a manager (which may break the swarm's quorum).
    type: bool
    default: false
  return_join_tokens:
    description: Return the swarm's join tokens (managers only). Set C(no_log) on that task.
    type: bool
    default: false
  docker_host:
    description: Docker Engine address (as C(DOCKER_HOST)); defaults to C(DOCKER_HOST) or the local socket.
    type: str
    aliases: [docker_url]
  docker_cli:
    description: Path of the docker CLI (unused; accepted for symmetry with the other modules).
    type: path
seealso:
  - module: community.docker.docker_swarm
  - module: community.docker.docker_node
'''

EXAMPLES = r'''
- name: First manager creates the swarm
  geostack.kargo.swarm_member:
    bootstrap: true
    advertise_addr: 10.10.0.11
    labels:
      kargo.postgis: "true"
  register: swarm

- name: Read the join tokens
  geostack.kargo.swarm_member:
    return_join_tokens: true
  register: tokens
  no_log: true

- name: A worker joins
  geostack.kargo.swarm_member:
    role: worker
    remote_addrs: [10.10.0.11]
    join_token: "{{ tokens.join_tokens.Worker }}"
    advertise_addr: 10.10.0.12

- name: Its labels, from the manager
  geostack.kargo.swarm_member:
    node: node2
    role: worker
    labels:
      kargo.zone: a
  delegate_to: node1
'''

RETURN = r'''
swarm:
  description: The engine's (or O(node)'s) swarm state after the run.
  returned: always
  type: dict
  sample: {local_node_state: active, node_id: zm2lcmj4, cluster_id: 7f1k9, role: manager, labels: {kargo.postgis: "true"}}
actions:
  description: What was (or would be) done.
  returned: always
  type: list
  elements: str
labels:
  description: Labels added, updated and removed.
  returned: when O(labels) is set
  type: dict
  sample: {added: {kargo.zone: a}, updated: {}, removed: [old]}
join_tokens:
  description: The swarm's join tokens, keys C(Worker) and C(Manager).
  returned: when O(return_join_tokens=true)
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import (
    CONNECTION_ARGS, DockerClient, DockerException)
from ansible_collections.geostack.kargo.plugins.module_utils.swarm_membership import MembershipError, SwarmMember


def reconcile_own_node(member, params, check_mode):
    facts = member.facts()
    wants_node_settings = params['labels'] is not None or params['availability']
    if not wants_node_settings or (check_mode and facts['local_node_state'] != 'active'):
        return False, None
    if facts['role'] != 'manager':
        raise MembershipError('this node is a worker: its labels and availability are set from a manager '
                              '(a task delegated to a manager with node=<this hostname>)')
    return member.reconcile_node(facts['node_id'], None, params['labels'], params['labels_exclusive'],
                                 params['availability'])


def main():
    argument_spec = dict(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        role=dict(type='str', default='manager', choices=['manager', 'worker']),
        bootstrap=dict(type='bool', default=False),
        remote_addrs=dict(type='list', elements='str', default=[]),
        join_token=dict(type='str', no_log=True),
        advertise_addr=dict(type='str'),
        listen_addr=dict(type='str', default='0.0.0.0:2377'),
        data_path_addr=dict(type='str'),
        cluster_id=dict(type='str'),
        node=dict(type='str'),
        labels=dict(type='dict'),
        labels_exclusive=dict(type='bool', default=True),
        availability=dict(type='str', choices=['active', 'pause', 'drain']),
        force=dict(type='bool', default=False),
        return_join_tokens=dict(type='bool', default=False, no_log=False),
    )
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('node', 'bootstrap'), ('node', 'join_token')])
    params = module.params
    if params['labels'] is not None:
        params['labels'] = dict((str(key), str(value)) for key, value in params['labels'].items())

    member = SwarmMember(DockerClient(module), module.check_mode)
    result = dict(changed=False, actions=member.actions)
    try:
        before = member.facts()
        if params['state'] == 'absent':
            result['changed'] = member.leave(params['force'])
        elif params['node']:
            if before.get('role') != 'manager':
                raise MembershipError('node=%s needs a manager: run this task on (or delegate it to) a manager' % params['node'])
            node_id = member.find_node(params['node'])['ID']
            before = member.facts(node_id)
            result['changed'], result['labels'] = member.reconcile_node(
                node_id, params['role'], params['labels'], params['labels_exclusive'], params['availability'])
        else:
            joined = member.ensure_member(params)
            node_changed, result['labels'] = reconcile_own_node(member, params, module.check_mode)
            result['changed'] = joined or node_changed
        if result.get('labels') is None:
            result.pop('labels', None)
        result['swarm'] = member.facts(member.find_node(params['node'])['ID'] if params['node'] else None)
        if params['return_join_tokens']:
            if result['swarm'].get('role') != 'manager':
                raise MembershipError('join tokens can only be read on a manager')
            result['join_tokens'] = member.join_tokens()
        if module._diff:
            result['diff'] = dict(before=before, after=result['swarm'])
    except (MembershipError, DockerException) as exc:
        result['msg'] = str(exc)
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
