# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for services to be ready, and saying clearly why they are not."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


class ServiceFailure(Exception):
    """Services that failed or did not get ready in time; the message says which and why."""


class Verdict(object):
    """What one look at a service says: ready, still waiting, or failed (with why)."""
    READY, WAITING, FAILED = 'ready', 'waiting', 'failed'

    def __init__(self, service, status, reason=''):
        self.service = service
        self.status = status
        self.reason = reason


def not_positive_seconds(params, *names):
    """The message refusing the first of these parameters (seconds) that is not a positive
    number, or None."""
    for name in names:
        if params.get(name) is not None and params[name] <= 0:
            return '%s must be a positive number of seconds, not %s' % (name, params[name])
    return None


def refuse_not_positive_seconds(module, *names):
    """Fails the module (an AnsibleModule) naming the first of these parameters that is not
    a positive number of seconds."""
    problem = not_positive_seconds(module.params, *names)
    if problem:
        module.fail_json(msg=problem)


def wait_for(look, timeout, describe_failure, interval=0.5, clock=time.monotonic, sleep=time.sleep):
    """Poll `look()` (a list of Verdicts) until all are ready.

    Fails at once when one has failed, or when `timeout` seconds have passed; the
    exception's message comes from `describe_failure(verdicts, timed_out)`.
    Returns the seconds waited.
    """
    started = clock()
    while True:
        verdicts = look()
        failed = [verdict for verdict in verdicts if verdict.status == Verdict.FAILED]
        if failed:
            raise ServiceFailure(describe_failure(failed, False))
        pending = [verdict for verdict in verdicts if verdict.status != Verdict.READY]
        if not pending:
            return clock() - started
        if clock() - started >= timeout:
            raise ServiceFailure(describe_failure(pending, True))
        sleep(interval)


def last_lines(text, count):
    lines = [line for line in (text or '').splitlines() if line.strip()]
    return lines[-count:]


def format_failure(service, reason, log_lines=None, task_errors=None, health_output=None, project=None, kind='project'):
    """One service's failure as a readable block: what, the task errors, the last log lines.
    project: the compose project (kind 'project') or swarm stack (kind 'stack') it belongs to."""
    parts = ["service '%s'%s: %s" % (service, " of %s '%s'" % (kind, project) if project else '', reason)]
    if task_errors:
        parts.append('  task errors:')
        parts.extend('    %s' % error for error in task_errors)
    if health_output:
        parts.append('  last health check output:')
        parts.extend('    %s' % line for line in last_lines(health_output, 5))
    if log_lines:
        parts.append('  last log lines:')
        parts.extend('    %s' % line for line in log_lines)
    elif log_lines is not None:
        parts.append('  (no log output)')
    return '\n'.join(parts)


def format_failures(blocks, timed_out, timeout):
    if timed_out:
        head = 'not ready after wait_timeout=%ss:' % timeout
    else:
        head = 'failed while waiting for services:'
    return '\n'.join([head] + list(blocks))
