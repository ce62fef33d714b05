# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deployment would change, service by service, and why. Pure logic."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import changed_inputs

UNCHANGED = 'unchanged'


class ServiceState(object):
    """One service as it is wanted (desired) or as it runs (current)."""

    def __init__(self, config_hash, inputs, replicas=1, running=None):
        self.config_hash = config_hash
        self.inputs = inputs
        self.replicas = replicas
        self.running = replicas if running is None else running

    def summary(self):
        return {'config_hash': self.config_hash, 'inputs': self.inputs, 'replicas': self.replicas}


def _reasons_for_update(current, desired):
    if not current.inputs:
        return ['not deployed by geostack.kargo before']
    changed = changed_inputs(current.inputs, desired.inputs)
    return ['%s changed' % name for name in changed] or ['fingerprint changed']


def plan_changes(desired, current, update_action='recreate', restart_stopped=True, prune=True):
    """Compare desired and current services; return one change per service, sorted by name.

    Each change is a dict: service, action (create, <update_action>, scale, start,
    remove or unchanged) and reasons (a list of short sentences).
    """
    changes = []
    for name in sorted(set(desired) | set(current)):
        wanted, running = desired.get(name), current.get(name)
        if wanted is None:
            if prune:
                changes.append({'service': name, 'action': 'remove', 'reasons': ['no longer defined']})
            continue
        if running is None:
            changes.append({'service': name, 'action': 'create', 'reasons': ['new service']})
        elif running.config_hash != wanted.config_hash:
            changes.append({'service': name, 'action': update_action, 'reasons': _reasons_for_update(running, wanted)})
        elif running.replicas != wanted.replicas:
            changes.append({'service': name, 'action': 'scale',
                            'reasons': ['replicas %s -> %s' % (running.replicas, wanted.replicas)]})
        elif restart_stopped and running.running < wanted.replicas:
            changes.append({'service': name, 'action': 'start',
                            'reasons': ['%d of %d containers not running' % (wanted.replicas - running.running, wanted.replicas)]})
        else:
            changes.append({'service': name, 'action': UNCHANGED, 'reasons': []})
    return changes


def has_changes(changes):
    return any(change['action'] != UNCHANGED for change in changes)


def changed_services(changes, actions=None):
    return [change['service'] for change in changes
            if change['action'] != UNCHANGED and (actions is None or change['action'] in actions)]


def diff_view(desired, current, changes, header):
    """Ansible's diff: before and after per service, with what changes and why."""
    actions = dict((change['service'], change) for change in changes)
    before = dict((name, state.summary()) for name, state in current.items())
    after = {}
    for name, state in desired.items():
        entry = state.summary()
        change = actions.get(name)
        if change and change['action'] != UNCHANGED:
            entry['change'] = '%s: %s' % (change['action'], ', '.join(change['reasons']))
        after[name] = entry
    return {
        'before_header': '%s (running)' % header,
        'after_header': '%s (wanted)' % header,
        'before': {'services': before},
        'after': {'services': after},
    }
