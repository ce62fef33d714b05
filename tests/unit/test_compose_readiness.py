"""When a compose service counts as up (module_utils/compose_project.py)."""
import datetime

from ansible_collections.geostack.kargo.plugins.module_utils.compose_project import (
    SETTLE_SECONDS, ComposeProject, seconds_running)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import Verdict

NOW = datetime.datetime(2026, 12, 6, 19, 10, 0, tzinfo=datetime.timezone.utc)


def container(status='running', started='2026-12-06T19:09:50.123456789Z', health=None, exit_code=0):
    state = {'Status': status, 'StartedAt': started, 'ExitCode': exit_code}
    if health:
        state['Health'] = {'Status': health}
    return {'Name': '/p-web-1', 'State': state, 'HostConfig': {'RestartPolicy': {'Name': 'unless-stopped'}}}


def verdict(*containers):
    project = ComposeProject(client=None, name='p', sources=None)
    return project._verdict('web', list(containers), len(containers), now=NOW)


def test_seconds_running_reads_dockers_nanosecond_times():
    assert round(seconds_running('2026-12-06T19:09:50.123456789Z', NOW), 6) == 9.876544
    assert seconds_running('2026-12-06T20:09:58+01:00', NOW) == 2.0
    # not started, or unreadable: 0
    assert seconds_running('0001-01-01T00:00:00Z', NOW) == 0.0
    assert seconds_running('', NOW) == seconds_running(None, NOW) == 0.0


def test_a_container_without_healthcheck_is_up_once_it_has_run_the_settle_time():
    assert verdict(container()).status == Verdict.READY
    just_started = NOW - datetime.timedelta(seconds=SETTLE_SECONDS / 4)
    waiting = verdict(container(started=just_started.isoformat().replace('+00:00', 'Z')))
    assert waiting.status == Verdict.WAITING and waiting.reason == 'container p-web-1 has just started'


def test_a_healthy_container_is_up_at_once_and_a_crashed_one_failed():
    assert verdict(container(started=NOW.isoformat(), health='healthy')).status == Verdict.READY
    crashed = verdict(container(status='exited', exit_code=3))
    assert crashed.status == Verdict.FAILED and crashed.reason == 'container p-web-1 exited with code 3'
