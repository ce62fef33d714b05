"""geostack.kargo.swarm_stack on a real one-node swarm."""
import textwrap

import pytest

from kargo_testlib import task, with_bad_files, TEST_IMAGE, engine, ensure_test_image, play

STACK = 'kargotest'

BASE = textwrap.dedent('''
    services:
      web:
        image: {image}
        command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
        stop_grace_period: 1s
        configs:
          - source: page
            target: /www/index.html
        healthcheck:
          test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
          interval: 1s
          retries: 10
      worker:
        image: {image}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
    configs:
      page:
        file: ./index.html
''').format(image=TEST_IMAGE)

# a service that never gets healthy and says hello in its log
SICK = textwrap.dedent('''
    services:
      sick:
        image: {image}
        command: ["sh", "-c", "echo swarm-sick-says-hello; exec sleep 100000"]
        stop_grace_period: 1s
        healthcheck:
          test: ["CMD", "false"]
          interval: 1s
          retries: 1
        deploy:
          endpoint_mode: dnsrr
          restart_policy: {{delay: 1s}}
''').format(image=TEST_IMAGE)

SWARM_OVERLAY = textwrap.dedent('''
    services:
      web:
        deploy:
          replicas: 2
          endpoint_mode: dnsrr
          update_config: {order: start-first}
      worker:
        deploy:
          endpoint_mode: dnsrr
''')


@pytest.fixture(scope='module', autouse=True)
def swarm():
    """A one-node swarm on this engine, left afterwards when these tests made it."""
    ensure_test_image()
    made = engine().info()['Swarm']['LocalNodeState'] == 'inactive'
    if made:
        engine().swarm.init(advertise_addr='127.0.0.1')
    yield
    if made:
        engine().swarm.leave(force=True)


@pytest.fixture
def stack_dir(tmp_path):
    (tmp_path / 'index.html').write_text('version one\n')
    (tmp_path / 'compose.yml').write_text(BASE)
    (tmp_path / 'compose.swarm.yml').write_text(SWARM_OVERLAY)
    yield tmp_path
    play([remove_task()])


def deploy_task(stack_dir, check_mode=False, **extra):
    args = dict(name=STACK, files=[str(stack_dir / 'compose.yml'), str(stack_dir / 'compose.swarm.yml')],
                resolve_image='never', wait_timeout=90)
    args.update(extra)
    return task('geostack.kargo.swarm_stack', check_mode, **args)


def remove_task(check_mode=False, **extra):
    args = dict(name=STACK, state='absent')
    args.update(extra)
    return task('geostack.kargo.swarm_stack', check_mode, **args)


def service_versions():
    return dict((s.name, s.version) for s in engine().services.list(filters={'label': 'com.docker.stack.namespace=' + STACK}))


def stack_configs():
    return sorted(c.name for c in engine().configs.list(filters={'label': 'com.docker.stack.namespace=' + STACK}))


def served_pages():
    containers = engine().containers.list(filters={'label': 'com.docker.swarm.service.name=%s_web' % STACK})
    return sorted(c.exec_run(['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']).output.decode() for c in containers)


def test_check_apply_apply_check(stack_dir):
    check, first, second, check_again = play([deploy_task(stack_dir, check_mode=True), deploy_task(stack_dir),
                                              deploy_task(stack_dir), deploy_task(stack_dir, check_mode=True)]).results
    assert check['changed'] is True and check['commands'] == []
    assert sorted((s['service'], s['action']) for s in check['services']) == [('web', 'create'), ('worker', 'create')]
    assert 'create: new service' in check['diff']['after']['services']['web']['change']

    assert not first.get('failed'), first.get('msg')
    assert first['changed'] is True
    assert [(s['service'], s['replicas']) for s in first['stack_services']] == [('web', 2), ('worker', 1)]
    versions = service_versions()

    assert second['changed'] is False
    assert second['commands'] == [], 'a no-op run must not call docker stack deploy'
    assert service_versions() == versions, 'no service may be updated by a no-op run'
    assert check_again['changed'] is False
    assert served_pages() == ['version one\n', 'version one\n']


def test_changed_config_file_rolls_its_service_and_old_config_is_removed(stack_dir):
    assert not play([deploy_task(stack_dir)])[0].get('failed')
    versions = service_versions()
    old_configs = stack_configs()

    (stack_dir / 'index.html').write_text('version two\n')
    check, apply = play([deploy_task(stack_dir, check_mode=True), deploy_task(stack_dir)]).results
    assert [(s['service'], s['action'], s['reasons']) for s in check['services']] == [
        ('web', 'update', ['config:page changed']), ('worker', 'unchanged', [])]
    assert not apply.get('failed'), apply.get('msg')
    assert served_pages() == ['version two\n', 'version two\n']
    new_configs = stack_configs()
    assert len(new_configs) == 1 and new_configs != old_configs, 'the old config version must be removed'
    assert apply['removed_objects'] == ['config %s' % old_configs[0]]
    assert service_versions()['%s_web' % STACK] > versions['%s_web' % STACK]
    worker = engine().services.get('%s_worker' % STACK)
    assert len([t for t in worker.tasks() if t['DesiredState'] == 'running']) == 1
    assert len(worker.tasks()) == 1, 'the worker service must not have been rolled'


def test_failing_service_error_has_task_errors_and_logs(tmp_path):
    (tmp_path / 'compose.yml').write_text(SICK)
    try:
        run = play([{'geostack.kargo.swarm_stack': dict(name=STACK, files=[str(tmp_path / 'compose.yml')],
                                                        resolve_image='never', wait_timeout=60)}])
        result = run[0]
        assert result['failed'] is True
        assert "service 'sick'" in result['msg']
        assert 'task errors:' in result['msg'] and 'unhealthy' in result['msg']
        assert 'swarm-sick-says-hello' in result['msg'], 'the last log lines must be in the error'
        assert run.seconds < 60 + 20
    finally:
        play([remove_task()])


def test_absent_waits_until_gone_and_is_idempotent(stack_dir):
    assert not play([deploy_task(stack_dir)])[0].get('failed')
    check, remove, again = play([remove_task(check_mode=True), remove_task(), remove_task()]).results
    assert check['changed'] is True and check['commands'] == []
    assert remove['changed'] is True and sorted(remove['removed']) == ['configs', 'networks', 'services']
    assert service_versions() == {}
    assert engine().networks.list(filters={'label': 'com.docker.stack.namespace=' + STACK}) == []
    assert again['changed'] is False


def started(name, files, register):
    """A deploy of stack `name` that does not wait, registered as `register`."""
    return dict(task('geostack.kargo.swarm_stack', name=name, files=[str(path) for path in files], resolve_image='never',
                     wait=False), register=register)


def waited_for(*stacks, **extra):
    """geostack.kargo.swarm_wait for stacks deployed by started() tasks: [(name, register)]."""
    args = dict(stacks=[{'name': name, 'services': "{{ %s.services | map(attribute='service') | list }}" % register,
                         'deployed_at': '{{ %s.deployed_at }}' % register} for name, register in stacks], wait_timeout=90)
    args.update(extra)
    return task('geostack.kargo.swarm_wait', **args)


def test_stacks_started_without_waiting_are_waited_for_together_then_old_configs_removed(stack_dir, tmp_path_factory):
    """Two stacks deployed with wait false, then one swarm_wait for both: their replicas
    all run when it returns. A changed config rolls its service; the wait removes the old
    config once the old tasks are gone; a second wait (nothing deployed) changes nothing."""
    second_dir = tmp_path_factory.mktemp('second')
    for name in ('index.html', 'compose.yml', 'compose.swarm.yml'):
        (second_dir / name).write_text((stack_dir / name).read_text())
    second = STACK + '-second'
    files = ['compose.yml', 'compose.swarm.yml']
    try:
        first, other, wait = play([started(STACK, [stack_dir / f for f in files], 'first'),
                                   started(second, [second_dir / f for f in files], 'other'),
                                   waited_for((STACK, 'first'), (second, 'other'))]).results
        assert first['changed'] is True and 'waited' not in first and first['deployed_at'] > 0
        assert not wait.get('failed'), wait.get('msg')
        assert wait['changed'] is False and wait['removed_objects'] == {STACK: [], second: []}
        assert sorted((stack, s['service'], s['replicas']) for stack, services in wait['stack_services'].items()
                      for s in services) == [(STACK, 'web', 2), (STACK, 'worker', 1), (second, 'web', 2), (second, 'worker', 1)]
        assert served_pages() == ['version one\n', 'version one\n']

        old_configs = stack_configs()
        (stack_dir / 'index.html').write_text('version two\n')
        rolled, wait, again = play([started(STACK, [stack_dir / f for f in files], 'rolled'),
                                    waited_for((STACK, 'rolled')),
                                    task('geostack.kargo.swarm_wait', stacks=[{'name': STACK, 'services': ['web', 'worker']}])]).results
        assert [(s['service'], s['action']) for s in rolled['services']] == [('web', 'update'), ('worker', 'unchanged')]
        assert not wait.get('failed'), wait.get('msg')
        assert served_pages() == ['version two\n', 'version two\n']
        assert wait['changed'] is True and wait['removed_objects'] == {STACK: ['config %s' % old_configs[0]]}
        assert len(stack_configs()) == 1 and stack_configs() != old_configs
        assert again['changed'] is False and again['removed_objects'] == {}
    finally:
        play([task('geostack.kargo.swarm_stack', name=second, state='absent')])


def test_a_failing_service_fails_the_wait_naming_it_and_its_stack(stack_dir, tmp_path_factory):
    sick_dir = tmp_path_factory.mktemp('sick')
    (sick_dir / 'compose.yml').write_text(SICK)
    sick = STACK + '-sick'
    try:
        run = play([started(sick, [sick_dir / 'compose.yml'], 'sick'),
                    started(STACK, [stack_dir / 'compose.yml', stack_dir / 'compose.swarm.yml'], 'healthy'),
                    waited_for((sick, 'sick'), (STACK, 'healthy'), wait_timeout=60)])
        assert not run[0].get('failed') and not run[1].get('failed'), (run[0].get('msg'), run[1].get('msg'))
        result = run[2]
        print(result['msg'])
        assert result['failed'] is True
        assert "service 'sick' of stack '%s'" % sick in result['msg']
        assert 'task errors:' in result['msg'] and 'unhealthy' in result['msg']
        assert 'swarm-sick-says-hello' in result['msg'], 'the last log lines must be in the error'
        assert "service 'web'" not in result['msg'], 'a converged service is not named'
        assert run.seconds < 60 + 30
    finally:
        play([task('geostack.kargo.swarm_stack', name=sick, state='absent')])


BAD = [
    ('unknown state', dict(state='running'), 'value of state must be one of'),
    ('missing file', dict(files=['/nonexistent/compose.yml']), 'compose file /nonexistent/compose.yml does not exist'),
    ('file that does not parse', dict(files=['BROKEN']), 'does not parse as YAML'),
    ('service defined twice', dict(files=['CLASH']), "key 'web' is defined twice"),
    ('undeclared config', dict(definition={'services': {'a': {'image': TEST_IMAGE, 'configs': ['nope']}}}),
     "uses config 'nope', which is not declared"),
    ('bad stack name', dict(name='bad name!'), "name 'bad name!' is not a valid stack name"),
]


@pytest.mark.parametrize('label,args,message', BAD, ids=[case[0] for case in BAD])
def test_bad_input_fails_before_touching_the_engine(tmp_path, label, args, message):
    module_args = dict(name='kargotest-bad', project_src=str(tmp_path), resolve_image='never')
    module_args.update(args)
    module_args['files'] = with_bad_files(tmp_path, module_args.get('files', []))
    result = play([{'geostack.kargo.swarm_stack': module_args}])[0]
    print(label, '->', result['msg'])
    assert result['failed'] is True
    assert message in result['msg']
    assert engine().services.list(filters={'label': 'com.docker.stack.namespace=kargotest-bad'}) == []


def test_check_mode_plans_with_the_files_and_images_an_earlier_task_would_change(stack_dir):
    assert not play([deploy_task(stack_dir)])[0].get('failed')
    versions = service_versions()
    pending = {str(stack_dir / 'index.html'): {'content': 'version two\n'}}
    with_files, with_image = play([deploy_task(stack_dir, check_mode=True, pending=pending),
                                   deploy_task(stack_dir, check_mode=True, pending_images=[TEST_IMAGE])]).results
    assert not with_files.get('failed'), with_files.get('msg')
    assert [(s['service'], s['action'], s['reasons']) for s in with_files['services']] == [
        ('web', 'update', ['config:page changed']), ('worker', 'unchanged', [])]
    assert [(s['service'], s['action'], s['reasons']) for s in with_image['services']] == [
        ('web', 'update', ['image changed']), ('worker', 'update', ['image changed'])]
    assert service_versions() == versions
    assert (stack_dir / 'index.html').read_text() == 'version one\n'
