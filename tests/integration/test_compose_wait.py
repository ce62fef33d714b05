"""geostack.kargo.compose_wait against the real Docker Engine: several projects started
without waiting (compose_project wait=false), then waited for in one task."""
import textwrap

import pytest

from kargo_testlib import task, TEST_IMAGE, ensure_test_image, play, project_containers

HEALTHY_AFTER_2S = textwrap.dedent('''
    services:
      web:
        image: %s
        command: ["sh", "-c", "sleep 2; touch /tmp/up; exec sleep 100000"]
        stop_grace_period: 1s
        healthcheck:
          test: ["CMD", "test", "-e", "/tmp/up"]
          interval: 1s
          retries: 30
''' % TEST_IMAGE)

# healthy 8 s after it starts: the wait, three tasks later, still finds it starting when
# the machine is busy (make test runs two streams at once: 2 s was not always enough)
HEALTHY_AFTER_8S = HEALTHY_AFTER_2S.replace('sleep 2;', 'sleep 8;')

SICK = textwrap.dedent('''
    services:
      sick:
        image: %s
        command: ["sh", "-c", "echo sick-service-says-hello; exec sleep 100000"]
        stop_grace_period: 1s
        healthcheck:
          test: ["CMD", "false"]
          interval: 1s
          retries: 2
''' % TEST_IMAGE)

PROJECTS = ['kargotest-wait-a', 'kargotest-wait-b']


@pytest.fixture(scope='module', autouse=True)
def test_image():
    ensure_test_image()


@pytest.fixture
def two_projects(tmp_path):
    """Two project folders, each with its compose.yml; every container is removed afterwards."""
    files = {}
    for name in PROJECTS:
        (tmp_path / name).mkdir()
        files[name] = str(tmp_path / name / 'compose.yml')
    yield files
    play([task('geostack.kargo.compose_project', project_name=name, state='absent') for name in PROJECTS])


def start(name, path):
    return task('geostack.kargo.compose_project', project_name=name, files=[path], wait=False)


def wait(files, check_mode=False, **extra):
    args = dict(projects=[{'name': name, 'files': [path]} for name, path in files.items()], wait_timeout=60)
    args.update(extra)
    return task('geostack.kargo.compose_wait', check_mode, **args)


def health(project):
    return [c.attrs['State']['Health']['Status'] for c in project_containers(project)]


def test_waits_for_every_project_at_once_and_changes_nothing(two_projects):
    for path in two_projects.values():
        with open(path, 'w') as handle:
            handle.write(HEALTHY_AFTER_8S)
    started, checked, waited, again = play([start(name, path) for name, path in two_projects.items()]
                                           + [wait(two_projects, check_mode=True), wait(two_projects), wait(two_projects)])[1:]
    assert started['changed'] is True
    assert checked['changed'] is False and 'waited' not in checked, 'check mode does not wait'
    assert waited['changed'] is False
    assert waited['waited'] > 0.5, 'both services were still starting: it must have waited'
    for name in PROJECTS:
        assert health(name) == ['healthy']
        assert [c['health'] for c in waited['containers'][name]] == ['healthy']
    assert again['changed'] is False and again['waited'] < 2


def test_fails_naming_the_service_and_project_not_ready_with_its_logs(two_projects):
    healthy, sick = PROJECTS
    with open(two_projects[healthy], 'w') as handle:
        handle.write(HEALTHY_AFTER_2S)
    with open(two_projects[sick], 'w') as handle:
        handle.write(SICK)
    result = play([start(name, path) for name, path in two_projects.items()] + [wait(two_projects)])[-1]
    print(result['msg'])
    assert result['failed'] is True
    assert "service 'sick' of project '%s': container %s-sick-1 is unhealthy" % (sick, sick) in result['msg']
    assert 'sick-service-says-hello' in result['msg'], 'the last log lines must be in the error'
    assert "service 'web'" not in result['msg']


def test_times_out_naming_a_project_that_was_never_started(two_projects):
    for path in two_projects.values():
        with open(path, 'w') as handle:
            handle.write(HEALTHY_AFTER_2S)
    result = play([wait(two_projects, wait_timeout=2)])[0]
    print(result['msg'])
    assert result['failed'] is True
    assert 'not ready after wait_timeout=2s' in result['msg']
    for name in PROJECTS:
        assert "service 'web' of project '%s': 0 of 1 containers exist" % name in result['msg']


BAD_INPUTS = [
    ('bad project name', dict(projects=[{'name': 'Bad Name', 'files': ['/tmp/compose.yml']}]),
     "projects: name 'Bad Name' is not a valid project name"),
    ('missing compose file', dict(projects=[{'name': 'kargotest-wait-a', 'files': ['/nonexistent/compose.yml']}]),
     "projects: compose file /nonexistent/compose.yml of project 'kargotest-wait-a' does not exist"),
    ('project without files', dict(projects=[{'name': 'kargotest-wait-a'}]), 'missing required arguments: files'),
    ('timeout not positive', dict(projects=[], wait_timeout=0), 'wait_timeout must be a positive number of seconds, not 0'),
]


@pytest.mark.parametrize('label,args,message', BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_naming_it(label, args, message):
    result = play([task('geostack.kargo.compose_wait', **args)])[0]
    print(label, '->', result['msg'])
    assert result['failed'] is True
    assert message in result['msg']
