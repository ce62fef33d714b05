# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work behind geostack.kargo.swarm_member: this engine's place in a swarm, and a node's
role and labels, reconciled with the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy


class MembershipError(Exception):
    """The node cannot be brought to what was asked; the message says why and what to do."""


def label_changes(current, wanted, exclusive):
    """What to add, change and remove to go from `current` node labels to `wanted`. Pure."""
    current = current or {}
    added = dict((key, value) for key, value in wanted.items() if key not in current)
    updated = dict((key, value) for key, value in wanted.items() if key in current and current[key] != value)
    removed = sorted(key for key in current if key not in wanted) if exclusive else []
    return {'added': added, 'updated': updated, 'removed': removed}


def apply_label_changes(current, changes):
    labels = dict(current or {})
    labels.update(changes['added'])
    labels.update(changes['updated'])
    for key in changes['removed']:
        labels.pop(key, None)
    return labels


def _addr_host(addr):
    return str(addr).rsplit(':', 1)[0] if str(addr).count(':') == 1 else str(addr)


class SwarmMember(object):
    def __init__(self, client, check_mode=False):
        self.client = client
        self.api = client.api
        self.check_mode = check_mode
        self.actions = []

    def info(self):
        return self.client.swarm_info()

    @staticmethod
    def role_of(info):
        return 'manager' if info.get('ControlAvailable') else 'worker'

    # ------------------------------------------------------------ membership of this engine
    def ensure_member(self, params):
        info = self.info()
        state = info.get('LocalNodeState')
        if state in ('error', 'locked', 'pending'):
            raise MembershipError('the swarm on this engine is %s: %s' % (state, info.get('Error') or 'unlock or repair it first'))
        if state != 'active':
            return self._enter(params)
        self._check_cluster(info, params)
        return self._ensure_role(info, params)

    def _enter(self, params):
        if params['bootstrap']:
            if params['role'] != 'manager':
                raise MembershipError('bootstrap creates a swarm, so role must be manager, not %s' % params['role'])
            self.actions.append('init a new swarm')
            if not self.check_mode:
                self.api.init_swarm(advertise_addr=params['advertise_addr'], listen_addr=params['listen_addr'],
                                    data_path_addr=params['data_path_addr'])
            return True
        if params['remote_addrs'] and params['join_token']:
            self.actions.append('join the swarm at %s as %s' % (', '.join(params['remote_addrs']), params['role']))
            if not self.check_mode:
                self.api.join_swarm(params['remote_addrs'], params['join_token'], listen_addr=params['listen_addr'],
                                    advertise_addr=params['advertise_addr'], data_path_addr=params['data_path_addr'])
            return True
        raise MembershipError('this engine is in no swarm: set bootstrap=true on the first manager, '
                              'or remote_addrs and join_token to join an existing swarm')

    def _check_cluster(self, info, params):
        expected = params['cluster_id']
        cluster = (info.get('Cluster') or {}).get('ID')
        if expected and cluster and cluster != expected:
            raise MembershipError('this engine belongs to another swarm (cluster %s, expected %s); '
                                  'make it leave first (state=absent, force=true)' % (cluster, expected))
        if not cluster and params['remote_addrs']:
            # a worker does not know its cluster ID; its managers' addresses tell the swarm apart
            known = set(_addr_host(manager['Addr']) for manager in info.get('RemoteManagers') or [])
            wanted = set(_addr_host(addr) for addr in params['remote_addrs'])
            if known and not known & wanted:
                raise MembershipError('this engine belongs to another swarm (managers %s, expected %s); '
                                      'make it leave first (state=absent, force=true)'
                                      % (', '.join(sorted(known)), ', '.join(sorted(wanted))))

    def _ensure_role(self, info, params):
        current = self.role_of(info)
        if current == params['role']:
            return False
        if current == 'manager':
            self.actions.append('demote this node to worker')
            if not self.check_mode:
                self.update_node(info['NodeID'], lambda spec: spec.update(Role='worker'))
            return True
        if not (params['join_token'] and params['remote_addrs']):
            raise MembershipError('this node is a worker and must become a manager: promote it from a manager '
                                  '(node=<this node> delegated to a manager), or give a manager join_token and '
                                  'remote_addrs to rejoin as manager')
        self.actions.append('rejoin the swarm as manager')
        if not self.check_mode:
            old_node = info['NodeID']
            self.api.leave_swarm(force=False)
            self.api.join_swarm(params['remote_addrs'], params['join_token'], listen_addr=params['listen_addr'],
                                advertise_addr=params['advertise_addr'], data_path_addr=params['data_path_addr'])
            self.api.remove_node(old_node, force=True)
        return True

    def leave(self, force):
        info = self.info()
        if info.get('LocalNodeState') == 'inactive':
            return False
        self.actions.append('leave the swarm')
        if not self.check_mode:
            try:
                self.api.leave_swarm(force=force)
            except Exception as exc:
                raise MembershipError('could not leave the swarm: %s%s' % (
                    exc, '' if force else ' (a manager leaving needs force=true)'))
        return True

    # ------------------------------------------------------------ node settings (from a manager)
    def find_node(self, name_or_id):
        for node in self.api.nodes():
            if name_or_id in (node['ID'], node['Description']['Hostname']):
                return node
        raise MembershipError("no node '%s' in this swarm" % name_or_id)

    def update_node(self, node_id, change):
        node = self.api.inspect_node(node_id)
        spec = copy.deepcopy(node['Spec'])
        change(spec)
        self.api.update_node(node_id, node['Version']['Index'], spec)

    def reconcile_node(self, node_id, role, labels, exclusive, availability):
        """Role, labels and availability of a node, as wanted. Needs a manager engine."""
        node = self.api.inspect_node(node_id)
        spec = node['Spec']
        changed = False
        if role and spec.get('Role') != role:
            self.actions.append('%s node %s' % ('promote' if role == 'manager' else 'demote', node['Description']['Hostname']))
            changed = True
        if availability and spec.get('Availability') != availability:
            self.actions.append('set availability %s' % availability)
            changed = True
        diff = None
        if labels is not None:
            diff = label_changes(spec.get('Labels'), labels, exclusive)
            if diff['added'] or diff['updated'] or diff['removed']:
                self.actions.append('labels: +%s ~%s -%s' % (sorted(diff['added']), sorted(diff['updated']), diff['removed']))
                changed = True
        if changed and not self.check_mode:
            def change(new_spec):
                if role:
                    new_spec['Role'] = role
                if availability:
                    new_spec['Availability'] = availability
                if diff is not None:
                    new_spec['Labels'] = apply_label_changes(new_spec.get('Labels'), diff)
            self.update_node(node_id, change)
        return changed, diff

    def facts(self, node_id=None):
        info = self.info()
        facts = {'local_node_state': info.get('LocalNodeState'), 'node_id': info.get('NodeID') or None,
                 'cluster_id': (info.get('Cluster') or {}).get('ID'), 'role': None}
        if facts['local_node_state'] == 'active':
            facts['role'] = self.role_of(info)
            facts['managers'] = [manager['Addr'] for manager in info.get('RemoteManagers') or []]
            if info.get('ControlAvailable'):
                node = self.api.inspect_node(node_id or info['NodeID'])
                facts['labels'] = node['Spec'].get('Labels') or {}
                facts['availability'] = node['Spec'].get('Availability')
        return facts

    def join_tokens(self):
        return self.api.inspect_swarm()['JoinTokens']
