# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work behind geostack.kargo.swarm_stack: a swarm stack, deployed only when changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import re
import time

from ansible_collections.geostack.kargo.plugins.module_utils.change_plan import (
    ServiceState, diff_view, has_changes, plan_changes)
from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import resolve_path
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import (
    HASH_LABEL, SHORT, file_digest, fingerprint_labels, read_inputs_label)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import (
    Verdict, format_failure, format_failures, wait_for)

NAMESPACE_LABEL = 'com.docker.stack.namespace'
STACK_NAME = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_-]*$')
FAILED_TASK_STATES = ('failed', 'rejected')
# Failed tasks since the deploy after which a service counts as failing, not starting.
FAILED_TASKS_LIMIT = 3
# Without a deploy in this run, failed tasks older than this are history, not a crash loop.
RECENT_FAILURES_SECONDS = 60


def desired_replicas(service):
    deploy = service.get('deploy') or {}
    if deploy.get('mode') == 'global':
        return 'global'
    return int(deploy['replicas']) if deploy.get('replicas') is not None else 1


def running_replicas(spec):
    mode = spec.get('Mode') or {}
    if 'Global' in mode:
        return 'global'
    return (mode.get('Replicated') or {}).get('Replicas', 1)


def content_named_objects(stack, model, project_dir):
    """Top-level configs and secrets read from files, named after their content.

    A changed file gets a new name, so the services using it roll (moby 35048).
    Returns the overlay fragment {'configs': {...}, 'secrets': {...}}.
    """
    overlay = {}
    for kind in ('configs', 'secrets'):
        for key, definition in sorted((model.get(kind) or {}).items()):
            if not isinstance(definition, dict) or not definition.get('file') or definition.get('external'):
                continue
            path = resolve_path(definition['file'], project_dir)
            name = '%s_%s_%s' % (stack, key, file_digest(path)[:SHORT])
            overlay.setdefault(kind, {})[key] = {'name': name, 'file': path}
    return overlay


class SwarmStack(object):
    """A stack: deployed from its compose files (sources), or, without them, only waited
    for (service_names: the services to wait for; deployed_at: when its deploy ran, as
    time.time(), None when nothing was deployed)."""

    def __init__(self, client, name, sources, check_mode=False, service_names=None, deployed_at=None):
        self.client = client
        self.name = name
        self.sources = sources
        self.check_mode = check_mode
        self.commands = []
        self.deployed_at = deployed_at
        self._service_names = service_names

    @property
    def service_names(self):
        return sorted(self.sources.services) if self.sources else sorted(self._service_names or [])

    def full_name(self, service):
        return '%s_%s' % (self.name, service)

    # ------------------------------------------------------------ reading
    def _namespace_filter(self):
        return {'label': '%s=%s' % (NAMESPACE_LABEL, self.name)}

    def services(self):
        prefix = self.name + '_'
        return dict((service['Spec']['Name'][len(prefix):], service)
                    for service in self.client.api.services(filters=self._namespace_filter())
                    if service['Spec']['Name'].startswith(prefix))

    def current_states(self):
        states = {}
        for name, service in self.services().items():
            labels = service['Spec'].get('Labels') or {}
            states[name] = ServiceState(labels.get(HASH_LABEL), read_inputs_label(labels),
                                        running_replicas(service['Spec']))
        return states

    def desired_states(self):
        return self.sources.desired_states(self.client.cluster_image_id, desired_replicas)

    # ------------------------------------------------------------ acting
    def overlay(self, desired):
        overlay = content_named_objects(self.name, self.sources.model, self.sources.project_dir)
        overlay['services'] = dict((name, {'deploy': {'labels': fingerprint_labels(state.inputs)}})
                                   for name, state in desired.items())
        return overlay

    def present(self, resolve_image, prune):
        desired = self.desired_states()
        current = self.current_states()
        changes = plan_changes(desired, current, update_action='update', restart_stopped=False, prune=prune)
        diff = diff_view(desired, current, changes, 'swarm stack %s' % self.name)
        if has_changes(changes) and not self.check_mode:
            file_args, stdin = self.sources.file_args('-c', self.overlay(desired))
            command = ['stack', 'deploy'] + file_args + ['--resolve-image', resolve_image]
            if prune:
                command.append('--prune')
            command.append(self.name)
            self.commands.append('docker ' + ' '.join(command))
            self.deployed_at = time.time()
            self.client.run(command, cwd=self.sources.project_dir, data=stdin)
        return changes, diff

    def remove_unused_objects(self):
        """Remove this stack's configs and secrets that no service uses any more."""
        in_use = set()
        for service in self.client.api.services(filters=self._namespace_filter()):
            container_spec = service['Spec']['TaskTemplate'].get('ContainerSpec') or {}
            in_use.update(item['ConfigName'] for item in container_spec.get('Configs') or [])
            in_use.update(item['SecretName'] for item in container_spec.get('Secrets') or [])
        removed = []
        for kind, listing, remove in (('config', self.client.api.configs, self.client.api.remove_config),
                                      ('secret', self.client.api.secrets, self.client.api.remove_secret)):
            for item in listing(filters=self._namespace_filter()):
                name = item['Spec']['Name']
                if name in in_use:
                    continue
                if not self.check_mode:
                    try:
                        remove(item['ID'])
                    except Exception:  # still used by a task shutting down: next run removes it
                        continue
                removed.append('%s %s' % (kind, name))
        return removed

    def absent(self, timeout):
        existing = {
            'services': sorted(self.full_name(name) for name in self.services()),
            'networks': sorted(n['Name'] for n in self.client.api.networks(filters=self._namespace_filter())),
            'configs': sorted(c['Spec']['Name'] for c in self.client.api.configs(filters=self._namespace_filter())),
            'secrets': sorted(s['Spec']['Name'] for s in self.client.api.secrets(filters=self._namespace_filter())),
        }
        present = dict((kind, names) for kind, names in existing.items() if names)
        if present and not self.check_mode:
            self.commands.append('docker stack rm %s' % self.name)
            self.client.run(['stack', 'rm', self.name])

            def look():
                left = [kind for kind, listing in (('services', self.client.api.services),
                                                   ('networks', self.client.api.networks))
                        if listing(filters=self._namespace_filter())]
                return [Verdict(kind, Verdict.WAITING, 'still present') for kind in left]

            def describe(verdicts, timed_out):
                return 'stack %s: %s not removed after %ss' % (
                    self.name, ', '.join(v.service for v in verdicts), timeout)

            wait_for(look, timeout, describe)
        return present

    # ------------------------------------------------------------ waiting
    def _failed_since_deploy(self, tasks):
        # without a deploy in this run, only recent failures count: a crash loop now, not
        # the failed tasks swarm keeps in its history from an earlier deploy
        since = self.deployed_at or (time.time() - RECENT_FAILURES_SECONDS)
        failed = []
        for task in tasks:
            status = task.get('Status') or {}
            if status.get('State') in FAILED_TASK_STATES and _timestamp(status.get('Timestamp')) >= since - 1:
                failed.append(task)
        return failed

    def _verdict(self, name, service, tasks):
        spec = service['Spec']
        update = service.get('UpdateStatus') or {}
        failure = update_failure(update, self.deployed_at)
        if failure:
            return Verdict(name, Verdict.FAILED, failure)
        if len(self._failed_since_deploy(tasks)) >= FAILED_TASKS_LIMIT:
            return Verdict(name, Verdict.FAILED, 'tasks keep failing')
        wanted = [task for task in tasks if task.get('DesiredState') == 'running']
        current = [task for task in wanted if _same_task_spec(task.get('Spec') or {}, spec['TaskTemplate'])]
        ready = [task for task in current if task['Status']['State'] == 'running']
        replicas = running_replicas(spec)
        target = len(wanted) if replicas == 'global' else replicas
        if update.get('State') in ('updating', 'rollback_started'):
            return Verdict(name, Verdict.WAITING, 'update in progress')
        if len(ready) < target or len(wanted) > target:
            return Verdict(name, Verdict.WAITING, '%d of %s replicas running' % (len(ready), target))
        # old tasks still running would keep serving the old version and hold old configs
        stopping = [task for task in tasks if task.get('DesiredState') != 'running'
                    and task['Status']['State'] in ('running', 'starting')]
        if stopping:
            return Verdict(name, Verdict.WAITING, '%d old tasks still stopping' % len(stopping))
        return Verdict(name, Verdict.READY)

    def look(self):
        """One look at the stack: a Verdict per service (Verdict.stack: this stack)."""
        services = self.services()
        self._last_services = services
        tasks = {}
        if services:  # one call for every service's tasks
            for task in self.client.api.tasks(filters={'service': [s['ID'] for s in services.values()]}):
                tasks.setdefault(task['ServiceID'], []).append(task)
        verdicts = [self._verdict(name, services[name], tasks.get(services[name]['ID'], [])) if name in services
                    else Verdict(name, Verdict.WAITING, 'service not created yet') for name in self.service_names]
        for verdict in verdicts:
            verdict.stack = self
        return verdicts

    def wait(self, timeout):
        return wait_for_stacks([self], timeout, name_stacks=False)

    def describe_service(self, name, reason, name_stack=False):
        full = self.full_name(name)
        tasks = sorted(self.client.api.tasks(filters={'service': full}), key=lambda task: task.get('Status', {}).get('Timestamp', ''))
        errors = []
        for task in tasks[-5:]:
            status = task.get('Status') or {}
            if status.get('Err') or status.get('State') in FAILED_TASK_STATES:
                errors.append('%s %s: %s' % (task['ID'][:12], status.get('State'), status.get('Err') or status.get('Message')))
        try:
            raw = self.client.api.service_logs(full, stdout=True, stderr=True, tail=20)
            logs = b''.join(raw).decode('utf-8', 'replace').splitlines()
        except Exception as exc:  # logs are a help, not the point: say why they are missing
            logs = ['(logs unavailable: %s)' % exc]
        return format_failure(name, reason, logs[-20:], task_errors=errors,
                              project=self.name if name_stack else None, kind='stack')

    def service_summaries(self):
        """The stack's services, as the last wait saw them (or as they are now)."""
        services = getattr(self, '_last_services', None) or self.services()
        return [{'name': self.full_name(name), 'service': name, 'replicas': running_replicas(service['Spec']),
                 'version': service['Version']['Index'], 'config_hash': (service['Spec'].get('Labels') or {}).get(HASH_LABEL)}
                for name, service in sorted(services.items())]


def wait_for_stacks(stacks, timeout, name_stacks=True):
    """Waits until every service of every stack (SwarmStacks) has its replicas running the
    current spec, no update under way and no old task still stopping: one look at all of
    them every round, so their rolling updates overlap. Returns the seconds waited; raises
    ServiceFailure naming each service not ready (and its stack, with name_stacks)."""
    def look():
        return [verdict for stack in stacks for verdict in stack.look()]

    def describe(verdicts, timed_out):
        blocks = [verdict.stack.describe_service(verdict.service, verdict.reason, name_stack=name_stacks)
                  for verdict in verdicts]
        return format_failures(blocks, timed_out, timeout)

    return wait_for(look, timeout, describe)


def update_failure(update, deployed_at):
    """Why a service's update status (its inspect's UpdateStatus) fails this run, or None.
    A paused update (its or its rollback's) is stuck whenever it started. A completed
    rollback fails only the run whose deploy it undid: the service then runs its previous
    spec again, which a later run that deploys nothing wants (swarm keeps the status until
    the next update)."""
    state = update.get('State')
    started = _timestamp(update.get('StartedAt'))
    stuck = state in ('paused', 'rollback_paused') and started >= (deployed_at or 0) - 1
    undone = state == 'rollback_completed' and deployed_at is not None and started >= deployed_at - 1
    if stuck or undone:
        return 'update %s: %s' % (state, update.get('Message', ''))
    return None


def _same_task_spec(task_spec, template):
    """Whether a task runs the service's current template (tasks keep a copy, minus a few fields)."""
    return all(task_spec.get(key) == template.get(key) for key in ('ContainerSpec', 'ForceUpdate'))


def _timestamp(text):
    """Seconds since the epoch of a Docker API timestamp (RFC 3339, nanoseconds)."""
    if not text:
        return 0
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z?', text)
    if not match:
        return 0
    seconds = calendar.timegm(time.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S'))
    return seconds + float('0.' + match.group(2)) if match.group(2) else seconds
