"""Waiting loop and error messages, with a fake clock (the real engine is in the integration tests)."""
import datetime

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.swarm_membership import apply_label_changes, label_changes
from ansible_collections.geostack.kargo.plugins.module_utils.swarm_stack import (
    _timestamp, content_named_objects, update_failure)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import (
    ServiceFailure, Verdict, format_failure, format_failures, not_positive_seconds, wait_for)


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def describe(verdicts, timed_out):
    return ('timeout: ' if timed_out else 'failed: ') + ','.join(v.service + '=' + v.reason for v in verdicts)


def test_ready_after_a_few_looks():
    clock, looks = Clock(), iter([[Verdict('a', Verdict.WAITING)], [Verdict('a', Verdict.READY)]])
    assert wait_for(lambda: next(looks), 10, describe, clock=clock, sleep=clock.sleep) == 0.5


def test_failure_stops_at_once_and_timeout_names_pending():
    clock = Clock()
    with pytest.raises(ServiceFailure, match='failed: b=crashed'):
        wait_for(lambda: [Verdict('a', Verdict.WAITING), Verdict('b', Verdict.FAILED, 'crashed')], 10, describe,
                 clock=clock, sleep=clock.sleep)
    assert clock.now == 0
    with pytest.raises(ServiceFailure, match='timeout: a=starting'):
        wait_for(lambda: [Verdict('a', Verdict.WAITING, 'starting'), Verdict('b', Verdict.READY)], 3, describe,
                 clock=clock, sleep=clock.sleep)
    assert clock.now == 3


def test_failure_message_layout():
    block = format_failure('db', 'unhealthy', ['l1', 'l2'], task_errors=['t1 failed: boom'], health_output='x\ny\n')
    assert block.splitlines() == ["service 'db': unhealthy", '  task errors:', '    t1 failed: boom',
                                  '  last health check output:', '    x', '    y', '  last log lines:', '    l1', '    l2']
    assert format_failure('db', 'gone', []).endswith('(no log output)')
    assert format_failures(['b'], True, 30).startswith('not ready after wait_timeout=30s:')


def test_label_reconciliation():
    changes = label_changes({'a': '1', 'b': '2', 'c': '3'}, {'a': '1', 'b': 'x', 'd': '4'}, exclusive=True)
    assert changes == {'added': {'d': '4'}, 'updated': {'b': 'x'}, 'removed': ['c']}
    assert apply_label_changes({'a': '1', 'b': '2', 'c': '3'}, changes) == {'a': '1', 'b': 'x', 'd': '4'}
    assert label_changes({'c': '3'}, {}, exclusive=False)['removed'] == []


def test_configs_are_named_after_their_content(tmp_path):
    (tmp_path / 'a.conf').write_text('one')
    model = {'configs': {'conf': {'file': './a.conf'}, 'ext': {'external': True}}, 'secrets': {}}
    first = content_named_objects('stk', model, str(tmp_path))['configs']['conf']
    (tmp_path / 'a.conf').write_text('two')
    second = content_named_objects('stk', model, str(tmp_path))['configs']['conf']
    assert first['name'].startswith('stk_conf_') and first['name'] != second['name']
    assert first['file'] == str(tmp_path / 'a.conf')
    expected = datetime.datetime(2026, 11, 21, 17, 30, tzinfo=datetime.timezone.utc).timestamp() + 0.5
    assert _timestamp('2026-11-21T17:30:00.500000000Z') == expected
    assert _timestamp('') == 0


# a swarm service's UpdateStatus as `docker service inspect` gives it; the run deployed at 1000 s (or not at all)
def update(state, started_at):
    return {'State': state, 'StartedAt': datetime.datetime.fromtimestamp(started_at, datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%S.%fZ'), 'Message': 'update ' + state}


@pytest.mark.parametrize('status, deployed_at, fails', [
    (update('rollback_completed', 1010), 1000, True),    # this run's deploy was rolled back
    (update('rollback_completed', 500), 1000, False),    # an older run's was: this run's update went on
    (update('rollback_completed', 500), None, False),    # nothing deployed: the service runs its previous spec
    (update('paused', 500), None, True),                 # stuck, whenever it started
    (update('rollback_paused', 1010), 1000, True),
    (update('completed', 1010), 1000, False),
    ({}, None, False),                                   # never updated
])
def test_an_update_fails_the_run_when_it_undid_this_run_or_is_stuck(status, deployed_at, fails):
    failure = update_failure(status, deployed_at)
    assert bool(failure) == fails, failure
    if fails:
        assert failure == 'update %s: update %s' % (status['State'], status['State'])


def test_a_timeout_that_is_not_positive_is_refused_by_name():
    assert not_positive_seconds({'timeout': 30, 'request_timeout': 10}, 'timeout', 'request_timeout') is None
    assert not_positive_seconds({'timeout': 30, 'request_timeout': 0}, 'timeout', 'request_timeout') == \
        'request_timeout must be a positive number of seconds, not 0'
    assert not_positive_seconds({'wait_timeout': -5}, 'wait_timeout') == 'wait_timeout must be a positive number of seconds, not -5'
    assert not_positive_seconds({'wait_timeout': None}, 'wait_timeout') is None
