# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work behind geostack.kargo.compose_project: a Compose v2 project, made to match."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.geostack.kargo.plugins.module_utils.change_plan import (
    ServiceState, diff_view, has_changes, plan_changes)
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import (
    HASH_LABEL, fingerprint_labels, read_inputs_label)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import (
    Verdict, format_failure, format_failures, last_lines, wait_for)

PROJECT_LABEL = 'com.docker.compose.project'
SERVICE_LABEL = 'com.docker.compose.service'
ONEOFF_LABEL = 'com.docker.compose.oneoff'
PROJECT_NAME = re.compile(r'^[a-z0-9][a-z0-9_-]*$')


# A container without a healthcheck counts as up once it has run this long: one that
# crashes at once (a bad command, a missing file) is then seen exited, not taken as up
# because the first look came before it died.
SETTLE_SECONDS = 2.0


def seconds_running(started_at, now):
    """Seconds since Docker's State.StartedAt (RFC 3339, nanoseconds, UTC) at `now` (an
    aware datetime); a time Docker did not set (0001-01-01) or cannot be read is 0."""
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$', started_at or '')
    if not match or match.group(1).startswith('0001-'):
        return 0.0
    zone = '+00:00' if match.group(3) == 'Z' else match.group(3)
    started = datetime.datetime.fromisoformat(match.group(1) + zone)
    started += datetime.timedelta(microseconds=int((match.group(2) or '0')[:6].ljust(6, '0')))
    return max(0.0, (now - started).total_seconds())


def desired_replicas(service):
    deploy = service.get('deploy') or {}
    if deploy.get('replicas') is not None:
        return int(deploy['replicas'])
    if service.get('scale') is not None:
        return int(service['scale'])
    return 1


class ComposeProject(object):
    def __init__(self, client, name, sources, check_mode=False):
        self.client = client
        self.name = name
        self.sources = sources
        self.check_mode = check_mode
        self.commands = []
        # the containers of each service at the last look, for failure reports
        self._seen = {}

    # ------------------------------------------------------------ reading
    def containers(self):
        """The project's service containers (not one-off `run` containers), by service."""
        by_service = {}
        for container in self.client.containers({PROJECT_LABEL: self.name}):
            labels = container['Config']['Labels'] or {}
            if labels.get(ONEOFF_LABEL) == 'True':
                continue
            by_service.setdefault(labels.get(SERVICE_LABEL), []).append(container)
        return by_service

    def current_states(self, by_service):
        states = {}
        for service, containers in by_service.items():
            labels = containers[0]['Config']['Labels'] or {}
            hashes = set((c['Config']['Labels'] or {}).get(HASH_LABEL) for c in containers)
            states[service] = ServiceState(
                config_hash=hashes.pop() if len(hashes) == 1 else None,
                inputs=read_inputs_label(labels),
                replicas=len(containers),
                running=sum(1 for c in containers if c['State']['Running']))
        return states

    def desired_states(self):
        return self.sources.desired_states(self.client.image_id, desired_replicas)

    def missing_images(self):
        return sorted(name for name, service in self.sources.services.items()
                      if service.get('image') and not service.get('build')
                      and self.client.image_id(service['image']) is None)

    # ------------------------------------------------------------ acting
    def compose(self, *args):
        file_args, stdin = self.sources.file_args('-f', getattr(self, '_overlay', None))
        command = ['compose', '-p', self.name, '--project-directory', self.sources.project_dir] + file_args + list(args)
        self.commands.append(' '.join(['docker'] + [a for a in command]))
        return self.client.run(command, cwd=self.sources.project_dir, data=stdin)

    def _label_overlay(self, desired):
        return {'services': dict((name, {'labels': fingerprint_labels(state.inputs)})
                                 for name, state in desired.items())}

    def present(self, pull, remove_orphans, start=True):
        """Create or update the project; return (changes, diff)."""
        if not self.check_mode and pull != 'never':
            missing = self.missing_images()
            if missing:
                self.compose('pull', *missing)
                self.client.forget_images()
        desired = self.desired_states()
        current = self.current_states(self.containers())
        changes = plan_changes(desired, current, restart_stopped=start, prune=remove_orphans)
        diff = diff_view(desired, current, changes, 'compose project %s' % self.name)
        if has_changes(changes) and not self.check_mode:
            self._overlay = self._label_overlay(desired)
            extra = ['--remove-orphans'] if remove_orphans else []
            if start:
                self.compose('up', '--detach', '--pull', 'never', *extra)
            else:
                self.compose('create', '--pull', 'never', *extra)
        return changes, diff

    def stop(self):
        running = [c for containers in self.containers().values() for c in containers if c['State']['Running']]
        if running and not self.check_mode:
            self.compose('stop')
        return bool(running)

    def restart(self):
        if not self.check_mode:
            self.compose('restart')

    def absent(self, remove_volumes):
        """Remove containers and networks (and volumes); return what was there."""
        labels = {PROJECT_LABEL: self.name}
        existing = {
            'containers': [c['Name'].lstrip('/') for c in self.client.containers(labels)],
            'networks': [n['Name'] for n in self.client.api.networks(filters={'label': '%s=%s' % (PROJECT_LABEL, self.name)})],
        }
        if remove_volumes:
            volumes = self.client.api.volumes(filters={'label': '%s=%s' % (PROJECT_LABEL, self.name)})
            existing['volumes'] = [v['Name'] for v in (volumes.get('Volumes') or [])]
        present = dict((kind, names) for kind, names in existing.items() if names)
        if present and not self.check_mode:
            args = ['down', '--remove-orphans'] + (['--volumes'] if remove_volumes else [])
            command = ['compose', '-p', self.name] + args
            self.commands.append('docker ' + ' '.join(command))
            self.client.run(command)
        return present

    # ------------------------------------------------------------ waiting
    def _verdict(self, service, containers, replicas, now=None):
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if len(containers) < replicas:
            return Verdict(service, Verdict.WAITING, '%d of %d containers exist' % (len(containers), replicas))
        for container in containers:
            state = container['State']
            health = (state.get('Health') or {}).get('Status')
            if state['Status'] in ('exited', 'dead'):
                policy = (container['HostConfig'].get('RestartPolicy') or {}).get('Name') or 'no'
                if state.get('ExitCode') == 0 and policy in ('no', 'on-failure'):
                    continue
                return Verdict(service, Verdict.FAILED, 'container %s exited with code %s'
                               % (container['Name'].lstrip('/'), state.get('ExitCode')))
            if health == 'unhealthy':
                return Verdict(service, Verdict.FAILED, 'container %s is unhealthy' % container['Name'].lstrip('/'))
            if state['Status'] != 'running':
                return Verdict(service, Verdict.WAITING, 'container %s is %s' % (container['Name'].lstrip('/'), state['Status']))
            if health and health != 'healthy':
                return Verdict(service, Verdict.WAITING, 'container %s is %s' % (container['Name'].lstrip('/'), health))
            if not health and seconds_running(state.get('StartedAt'), now) < SETTLE_SECONDS:
                return Verdict(service, Verdict.WAITING, 'container %s has just started' % container['Name'].lstrip('/'))
        return Verdict(service, Verdict.READY)

    def readiness(self):
        """One look at every service: a Verdict each, naming this project (verdict.project)."""
        replicas = dict((name, desired_replicas(service)) for name, service in self.sources.services.items())
        by_service = self.containers()
        self._seen.update(by_service)
        verdicts = [self._verdict(service, by_service.get(service, []), count) for service, count in sorted(replicas.items())]
        for verdict in verdicts:
            verdict.project = self
        return verdicts

    def failure_block(self, verdict, name_project=False):
        """Why a service is not ready, with its last health check output and log lines."""
        containers = self._seen.get(verdict.service) or []
        logs, health_output = None, None
        if containers:
            container = containers[0]
            logs = self.client.container_logs(container['Id'])
            health_log = (container['State'].get('Health') or {}).get('Log') or []
            if health_log:
                health_output = health_log[-1].get('Output')
        return format_failure(verdict.service, verdict.reason, last_lines('\n'.join(logs or []), 20)
                              if logs is not None else None, health_output=health_output,
                              project=self.name if name_project else None)

    def wait(self, timeout):
        return wait_for_projects([self], timeout)

    def container_summaries(self):
        summaries = []
        for service, containers in sorted(self.containers().items()):
            for container in containers:
                summaries.append({
                    'name': container['Name'].lstrip('/'),
                    'service': service,
                    'state': container['State']['Status'],
                    'health': (container['State'].get('Health') or {}).get('Status'),
                    'id': container['Id'][:12],
                })
        return summaries


def wait_for_projects(projects, timeout):
    """Waits until every service of every project (ComposeProjects) is running, and healthy
    where it has a healthcheck: one look at all of them every round, so their start-ups
    overlap. Returns the seconds waited; raises ServiceFailure naming each service not ready."""
    def look():
        return [verdict for project in projects for verdict in project.readiness()]

    def describe(verdicts, timed_out):
        blocks = [verdict.project.failure_block(verdict, name_project=len(projects) > 1) for verdict in verdicts]
        return format_failures(blocks, timed_out, timeout)

    return wait_for(look, timeout, describe)
