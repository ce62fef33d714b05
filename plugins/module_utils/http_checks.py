# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asking several URLs for an answer at once, again until each gives an expected status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, Verdict, wait_for


def ask(fetch, check):
    """One request's answer: name, url, status (None without one), error ('' with an
    answer), seconds. Never raises: any failure to get an answer is a reason to ask again."""
    started = time.monotonic()
    status, error = None, ''
    try:
        status = fetch(check['url'])
    except Exception as exc:
        status, error = getattr(exc, 'code', None), '%s: %s' % (type(exc).__name__, exc)
    return {'name': check['name'], 'url': check['url'], 'status': status, 'error': error,
            'seconds': round(time.monotonic() - started, 3)}


def check_urls(checks, fetch, expected_statuses, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """Ask every URL of `checks` ([{name, url}]) in parallel, again for those without an expected
    status, until all have one or `timeout` seconds have passed (ServiceFailure naming each
    one that has none, with its last status or error). Returns the answers, in order."""
    answers = {}

    def look():
        todo = [check for check in checks if answers.get(check['name'], {}).get('status') not in expected_statuses]
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            for answer in pool.map(lambda check: ask(fetch, check), todo):
                answers[answer['name']] = answer
        return [Verdict(check['name'], Verdict.READY if answers[check['name']]['status'] in expected_statuses
                        else Verdict.WAITING, describe(answers[check['name']])) for check in checks]

    def failure(pending, timed_out):
        return 'no expected answer (status %s) after %ss from: %s' % (
            ', '.join(str(status) for status in expected_statuses), timeout,
            '; '.join('%s (%s)' % (verdict.service, verdict.reason) for verdict in pending))

    wait_for(look, timeout, failure, interval=interval, clock=clock, sleep=sleep)
    return [answers[check['name']] for check in checks]


def describe(answer):
    if answer['error'] and answer['status'] is None:
        return '%s: %s' % (answer['url'], answer['error'])
    return '%s answered %s' % (answer['url'], answer['status'])

