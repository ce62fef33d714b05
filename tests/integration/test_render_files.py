"""geostack.kargo.render_files through ansible-playbook: templates rendered on the controller,
check mode -> apply -> apply again (unchanged) -> check mode again, all with diff on; a changed
template rewrites only its file; a secret never reaches the output."""
import os

from kargo_testlib import play, task

SECRET = 'kargo-test-secret-3f9c1d'


def render_task(folder, check_mode=False, **extra):
    args = dict(
        dest=str(folder / 'svc'),
        folders=['tls', str(folder / 'data')],
        files=[
            {'path': 'site.conf', 'template': str(folder / 'site.conf.j2')},
            {'path': 'compose.yml', 'template': str(folder / 'compose.yml.j2')},
            {'path': 'password', 'content': SECRET, 'mode': '0400', 'secret': True},
        ],
    )
    args.update(extra)
    one = task('geostack.kargo.render_files', check_mode, **args)
    one['vars'] = {'greeting': 'hello', 'port': 8080}
    return one


def write_templates(folder, greeting_line='greeting = {{ greeting }}'):
    (folder / 'site.conf.j2').write_text('# {{ ansible_managed }}\n%s\n{%% if port %%}\nport = {{ port }}\n{%% endif %%}\n'
                                         % greeting_line)
    (folder / 'compose.yml.j2').write_text('services:\n  web:\n    image: demo\n')


def test_check_apply_apply_check(tmp_path):
    write_templates(tmp_path)
    check, first, second, check_again = play([
        render_task(tmp_path, check_mode=True), render_task(tmp_path),
        render_task(tmp_path), render_task(tmp_path, check_mode=True)]).results
    svc = tmp_path / 'svc'

    assert not check.get('failed'), check
    assert check['changed'] is True
    assert [f['state'] for f in check['files']] == ['created', 'created', 'created']
    assert [d['after_header'] for d in check['diff']] == ['site.conf', 'compose.yml'], 'no diff of a secret'

    assert not first.get('failed'), first
    assert first['changed'] is True
    assert first['changed_files'] == ['site.conf', 'compose.yml', 'password']
    assert (svc / 'site.conf').read_text() == '# Ansible managed\ngreeting = hello\nport = 8080\n'
    assert (svc / 'password').read_text() == SECRET
    assert oct(os.stat(str(svc / 'password')).st_mode & 0o7777) == '0o400'
    assert (svc / 'tls').is_dir() and (tmp_path / 'data').is_dir()
    assert 'sha256' not in first['files'][2]

    assert second['changed'] is False, second
    assert [f['state'] for f in second['files']] == ['unchanged', 'unchanged', 'unchanged']
    assert check_again['changed'] is False, check_again


def test_a_changed_template_rewrites_only_its_file(tmp_path):
    write_templates(tmp_path)
    assert not play([render_task(tmp_path)])[0].get('failed')
    svc = tmp_path / 'svc'
    inodes = dict((name, os.stat(str(svc / name)).st_ino) for name in ('compose.yml', 'password'))

    write_templates(tmp_path, greeting_line='greeting = {{ greeting | upper }}')
    changed = play([render_task(tmp_path)])[0]

    assert changed['changed'] is True
    assert changed['changed_files'] == ['site.conf']
    assert changed['diff'] == [{'before_header': 'site.conf', 'after_header': 'site.conf',
                                'before': '# Ansible managed\ngreeting = hello\nport = 8080\n',
                                'after': '# Ansible managed\ngreeting = HELLO\nport = 8080\n'}]
    assert (svc / 'site.conf').read_text() == '# Ansible managed\ngreeting = HELLO\nport = 8080\n'
    assert dict((name, os.stat(str(svc / name)).st_ino) for name in inodes) == inodes


def test_a_removed_setting_file_goes_and_a_secret_is_never_shown(tmp_path):
    write_templates(tmp_path)
    (tmp_path / 'svc' / 'tls').mkdir(parents=True)
    (tmp_path / 'svc' / 'tls' / 'custom.key').write_text('old key')
    run = play([render_task(tmp_path, absent=['tls/custom.key']), render_task(tmp_path, absent=['tls/custom.key'])],
               verbosity=3)
    removed, again = run.results
    assert removed['removed'] == ['tls/custom.key'] and not (tmp_path / 'svc' / 'tls' / 'custom.key').exists()
    assert again['changed'] is False
    assert SECRET not in run.stdout


def test_a_bad_template_fails_naming_it_and_writes_nothing(tmp_path):
    write_templates(tmp_path)
    (tmp_path / 'compose.yml.j2').write_text('image: {{ no_such_variable }}\n')
    failed = play([render_task(tmp_path)])[0]
    assert failed.get('failed') is True
    assert 'compose.yml.j2' in failed['msg'] and 'no_such_variable' in failed['msg']
    assert not (tmp_path / 'svc').exists()
