"""geostack.kargo.compose_project against the real Docker Engine."""
import textwrap

import pytest

from kargo_testlib import task, with_bad_files, TEST_IMAGE, container_ids, engine, ensure_test_image, play, project_containers

PROJECT = 'kargotest-compose'

BASE = textwrap.dedent('''
    services:
      web:
        image: {image}
        command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
        stop_grace_period: 1s
        volumes:
          - ./index.html:/www/index.html:ro
        healthcheck:
          test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
          interval: 1s
          retries: 10
      worker:
        image: {image}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        volumes:
          - data:/data
    volumes:
      data: {{}}
''').format(image=TEST_IMAGE)

OVERLAY = textwrap.dedent('''
    services:
      worker:
        environment:
          ROLE: worker
''')


@pytest.fixture(scope='module', autouse=True)
def test_image():
    ensure_test_image()


@pytest.fixture
def project_dir(tmp_path):
    (tmp_path / 'index.html').write_text('version one\n')
    (tmp_path / 'compose.yml').write_text(BASE)
    (tmp_path / 'compose.override.yml').write_text(OVERLAY)
    yield tmp_path
    play([remove_task()])


def deploy_task(project_dir, check_mode=False, **extra):
    args = dict(project_name=PROJECT, files=[str(project_dir / 'compose.yml'), str(project_dir / 'compose.override.yml')],
                wait_timeout=60)
    args.update(extra)
    return task('geostack.kargo.compose_project', check_mode, **args)


def remove_task(check_mode=False, **extra):
    args = dict(project_name=PROJECT, state='absent', remove_volumes=True)
    args.update(extra)
    return task('geostack.kargo.compose_project', check_mode, **args)


def served_page():
    web = [c for c in project_containers(PROJECT) if c.labels['com.docker.compose.service'] == 'web'][0]
    return web.exec_run(['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']).output.decode()


def test_check_apply_apply_check(project_dir):
    run = play([deploy_task(project_dir, check_mode=True), deploy_task(project_dir),
                deploy_task(project_dir), deploy_task(project_dir, check_mode=True)])
    check, first, second, check_again = run.results

    assert not check.get('failed'), check
    assert check['changed'] is True
    assert sorted((s['service'], s['action']) for s in check['services']) == [('web', 'create'), ('worker', 'create')]
    assert check['commands'] == []
    assert 'create: new service' in check['diff']['after']['services']['web']['change']

    assert not first.get('failed'), first.get('msg')
    assert first['changed'] is True
    assert sorted((c['service'], c['state'], c['health']) for c in first['containers']) == [
        ('web', 'running', 'healthy'), ('worker', 'running', None)]

    assert second['changed'] is False, second['services']
    assert second['commands'] == [], 'a no-op run must not call docker compose'
    assert [c['id'] for c in second['containers']] == [c['id'] for c in first['containers']]
    assert check_again['changed'] is False
    assert all(s['action'] == 'unchanged' for s in check_again['services'])

    # the overlay was merged: the worker got its environment
    worker = [c for c in project_containers(PROJECT) if c.labels['com.docker.compose.service'] == 'worker'][0]
    assert 'ROLE=worker' in worker.attrs['Config']['Env']
    assert served_page() == 'version one\n'


def test_changed_bind_mounted_file_recreates_only_its_service(project_dir):
    assert not play([deploy_task(project_dir)])[0].get('failed')
    before = container_ids(PROJECT)

    (project_dir / 'index.html').write_text('version two\n')
    check, apply = play([deploy_task(project_dir, check_mode=True), deploy_task(project_dir)]).results

    assert [(s['service'], s['action'], s['reasons']) for s in check['services']] == [
        ('web', 'recreate', ['volume:./index.html changed']), ('worker', 'unchanged', [])]
    assert check['changed'] is True
    assert apply['changed'] is True
    after = container_ids(PROJECT)
    assert after['worker'] == before['worker'], 'the service that does not use the file must not be recreated'
    assert after['web'] != before['web'], 'the service bind-mounting the changed file must be recreated'
    assert served_page() == 'version two\n'


def test_removed_service_is_removed_and_stopped_state(project_dir):
    assert not play([deploy_task(project_dir)])[0].get('failed')
    (project_dir / 'compose.override.yml').write_text('services: {}\n')
    only_web = textwrap.dedent('''
        services:
          web:
            image: %s
            command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
            stop_grace_period: 1s
    ''' % TEST_IMAGE)
    (project_dir / 'compose.yml').write_text(only_web)
    shrink, stop, stop_again, start = play([
        deploy_task(project_dir), deploy_task(project_dir, state='stopped'),
        deploy_task(project_dir, state='stopped'), deploy_task(project_dir)]).results
    assert ('worker', 'remove') in [(s['service'], s['action']) for s in shrink['services']], shrink
    assert set(container_ids(PROJECT)) == {'web'}
    assert stop['changed'] is True and stop_again['changed'] is False
    assert start['changed'] is True
    assert [c.status for c in project_containers(PROJECT)] == ['running']


def test_restarted_restarts_every_time(project_dir):
    results = play([deploy_task(project_dir), deploy_task(project_dir, state='restarted')]).results
    assert results[1]['changed'] is True and not results[1].get('failed'), results[1]
    assert any('restart' in command for command in results[1]['commands'])


def test_absent_removes_volumes_and_is_idempotent(project_dir):
    assert not play([deploy_task(project_dir)])[0].get('failed')
    check, remove, again = play([remove_task(check_mode=True), remove_task(), remove_task()]).results
    assert check['changed'] is True and sorted(check['removed']) == ['containers', 'networks', 'volumes']
    assert remove['changed'] is True
    assert sorted(remove['removed']) == ['containers', 'networks', 'volumes']
    assert again['changed'] is False
    assert project_containers(PROJECT) == []
    assert engine().volumes.list(filters={'label': 'com.docker.compose.project=%s' % PROJECT}) == []


def test_unhealthy_service_fails_within_timeout_with_its_logs(tmp_path):
    (tmp_path / 'compose.yml').write_text(textwrap.dedent('''
        services:
          sick:
            image: %s
            command: ["sh", "-c", "echo sick-service-says-hello; exec sleep 100000"]
            stop_grace_period: 1s
            healthcheck:
              test: ["CMD", "false"]
              interval: 1s
              retries: 2
          fine:
            image: %s
            command: ["sleep", "100000"]
            stop_grace_period: 1s
    ''' % (TEST_IMAGE, TEST_IMAGE)))
    try:
        result = play([{'geostack.kargo.compose_project': dict(
            project_name=PROJECT, files=[str(tmp_path / 'compose.yml')], wait_timeout=30)}])[0]
        assert result['failed'] is True
        assert "service 'sick'" in result['msg']
        assert 'unhealthy' in result['msg']
        assert 'sick-service-says-hello' in result['msg'], 'the last log lines must be in the error'
        assert "service 'fine'" not in result['msg']
    finally:
        play([remove_task()])


def test_service_that_never_gets_healthy_times_out_with_logs(tmp_path):
    (tmp_path / 'compose.yml').write_text(textwrap.dedent('''
        services:
          slow:
            image: %s
            command: ["sh", "-c", "echo still-starting; exec sleep 100000"]
            stop_grace_period: 1s
            healthcheck:
              test: ["CMD", "false"]
              interval: 1s
              start_period: 60s
              retries: 1000
    ''' % TEST_IMAGE))
    try:
        run = play([{'geostack.kargo.compose_project': dict(
            project_name=PROJECT, files=[str(tmp_path / 'compose.yml')], wait_timeout=5)}])
        result = run[0]
        assert result['failed'] is True
        assert 'not ready after wait_timeout=5s' in result['msg']
        assert "service 'slow'" in result['msg'] and 'still-starting' in result['msg']
        assert run.seconds < 5 + 20, 'the failure must come with the timeout, not much later'
    finally:
        play([remove_task()])


def test_exited_service_fails_with_exit_code_and_logs(tmp_path):
    (tmp_path / 'compose.yml').write_text(textwrap.dedent('''
        services:
          crash:
            image: %s
            command: ["sh", "-c", "echo about-to-crash; exit 3"]
    ''' % TEST_IMAGE))
    try:
        result = play([{'geostack.kargo.compose_project': dict(
            project_name=PROJECT, files=[str(tmp_path / 'compose.yml')], wait_timeout=30)}])[0]
        assert result['failed'] is True
        assert 'exited with code 3' in result['msg'] and 'about-to-crash' in result['msg']
    finally:
        play([remove_task()])


BAD_INPUTS = [
    ('unknown state', dict(state='running'), 'value of state must be one of'),
    ('missing file', dict(files=['/nonexistent/compose.yml']), 'compose file /nonexistent/compose.yml does not exist'),
    ('file that does not parse', dict(files=['BROKEN']), 'does not parse as YAML'),
    ('service defined twice', dict(files=['CLASH']), "key 'web' is defined twice"),
    ('container name clash', dict(definition={'services': {
        'a': {'image': TEST_IMAGE, 'container_name': 'same'},
        'b': {'image': TEST_IMAGE, 'container_name': 'same'}}}), "both use container_name 'same'"),
    ('missing config file', dict(definition={'services': {'a': {'image': TEST_IMAGE, 'configs': ['c']}},
                                             'configs': {'c': {'file': './nope.conf'}}}), 'nope.conf'),
    ('bad project name', dict(project_name='Bad Name'), "project_name 'Bad Name' is not valid"),
    ('no input', dict(files=[]), 'give files, definition, or both'),
]


@pytest.mark.parametrize('label,args,message', BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_before_touching_the_engine(tmp_path, label, args, message):
    (tmp_path / 'compose.yml').write_text(BASE)
    module_args = dict(project_name='kargotest-bad', project_src=str(tmp_path))
    module_args.update(args)
    module_args['files'] = with_bad_files(tmp_path, module_args.get('files', []))
    result = play([{'geostack.kargo.compose_project': module_args}])[0]
    print(label, '->', result['msg'])
    assert result['failed'] is True
    assert message in result['msg']
    assert project_containers('kargotest-bad') == []
    assert engine().networks.list(filters={'label': 'com.docker.compose.project=kargotest-bad'}) == []


def plan(result):
    assert not result.get('failed'), result.get('msg')
    return [(s['service'], s['action'], s['reasons']) for s in result['services']]


def test_check_mode_plans_with_the_files_and_images_an_earlier_task_would_change(project_dir):
    """site.yml in check mode: render_files wrote nothing and the images role built nothing;
    what they would have done comes as pending and pending_images."""
    assert not play([deploy_task(project_dir)])[0].get('failed')
    before = container_ids(PROJECT)
    unread = str(project_dir / 'seed.yaml')
    pending = {str(project_dir / 'index.html'): {'content': 'version two\n'}, unread: {'content': 'levels: 3\n'}}
    with_files, with_image, outside_check_mode = play([
        deploy_task(project_dir, check_mode=True, pending=pending),
        deploy_task(project_dir, check_mode=True, pending_images=[TEST_IMAGE]),
        deploy_task(project_dir, pending=pending, pending_images=[TEST_IMAGE]),
    ]).results
    assert plan(with_files) == [('web', 'recreate', ['volume:./index.html changed']), ('worker', 'unchanged', [])]
    assert with_files['unread_pending'] == [unread]
    assert with_files['diff']['after']['unread_pending'] == ['%s: no service reads it, nothing restarts' % unread]
    assert plan(with_image) == [('web', 'recreate', ['image changed']), ('worker', 'recreate', ['image changed'])]
    # a real run reads the files and images as they are: the earlier tasks have acted by then
    assert plan(outside_check_mode) == [('web', 'unchanged', []), ('worker', 'unchanged', [])]
    assert container_ids(PROJECT) == before
    assert (project_dir / 'index.html').read_text() == 'version one\n' and not (project_dir / 'seed.yaml').exists()


def test_check_mode_plans_a_project_whose_files_are_not_written_yet(tmp_path):
    folder = tmp_path / 'first-deploy'
    pending = {str(folder / 'compose.yml'): {'content': BASE}, str(folder / 'index.html'): {'content': 'v1\n'}}
    files = [str(folder / 'compose.yml')]
    planned, missing = play([
        task('geostack.kargo.compose_project', True, project_name=PROJECT, files=files, pending=pending),
        task('geostack.kargo.compose_project', True, project_name=PROJECT, files=files),
    ]).results
    assert plan(planned) == [('web', 'create', ['new service']), ('worker', 'create', ['new service'])]
    assert missing['failed'] and 'is not a directory' in missing['msg']
    assert not folder.exists() and project_containers(PROJECT) == []
