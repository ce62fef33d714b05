"""Running real playbooks against the real engine, and reading their results."""
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

import docker
import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_IMAGE = 'kargo-test/busybox:1'


class PlayResult(object):
    def __init__(self, results, stdout, seconds):
        self.results = results
        self.stdout = stdout
        self.seconds = seconds

    def __getitem__(self, index):
        return self.results[index]


def ansible_playbook(playbook_path, options, inventory=None, timeout=600):
    """Run ansible-playbook from this checkout with the JSON callback; (completed process, seconds)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CALLBACKS_ENABLED='ansible.posix.json')
    command = [os.path.join(sys.prefix, 'bin', 'ansible-playbook'),
               '-i', inventory or os.path.join(ROOT, 'inventories', 'local'), playbook_path] + options
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return completed, time.monotonic() - started


def play(tasks, check=False, verbosity=0, timeout=600):
    """Run tasks on localhost through ansible-playbook; return each task's result, in order.

    Every task result is kept, failed ones included (the play goes on: ignore_errors).
    """
    for task in tasks:
        task.setdefault('ignore_errors', True)
        task.setdefault('diff', True)
        if check:
            task.setdefault('check_mode', True)
    playbook = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        yaml.safe_dump(playbook, handle)
    options = ['-' + 'v' * verbosity] if verbosity else []
    completed, seconds = ansible_playbook(handle.name, options, timeout=timeout)
    os.unlink(handle.name)
    try:
        report = json.loads(completed.stdout[completed.stdout.index('{'):])
    except ValueError:
        raise AssertionError('ansible-playbook output is not JSON:\n%s\n%s' % (completed.stdout, completed.stderr))
    results = [task['hosts']['localhost'] for task in report['plays'][0]['tasks']]
    return PlayResult(results, completed.stdout, seconds)


def engine():
    return docker.from_env()


def ensure_test_image():
    """A 2 MB image from Debian's busybox-static: sh, httpd, wget, sleep. Built once."""
    client = engine()
    try:
        client.images.get(TEST_IMAGE)
        return
    except docker.errors.ImageNotFound:
        pass
    subprocess.run(['bash', os.path.join(ROOT, 'tests', 'integration', 'make-test-image.sh'), TEST_IMAGE], check=True)


def build_images(services, prefix='kargo-test-build'):
    """The images of `services`, built from Debian packages as inventories/local builds them
    (the same build hashes as site.yml's: a no-op when they are up to date)."""
    run = run_playbook('playbooks/images.yml', {'kargo_prefix': prefix, 'kargo_root': '/tmp/' + prefix,
                                                'kargo_services': list(services)}, timeout=2400)
    for network in engine().networks.list(names=['%s-front' % prefix, '%s-back' % prefix]):
        network.remove()
    assert run.rc == 0, run.explain()


# every service the stack tests deploy (geoserver aside: it has no package to build from)
STACK_SERVICES = ('postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy')


def build_shared_images(say=lambda line: None):
    """The images several test files use, made before they run at once (tests/run_streams.py):
    the test image, the services' images (and tools, for the sample data) and the lab
    nodes' image. Each is a no-op when it is up to date; `say` is told each step."""
    say('the test image (%s)' % TEST_IMAGE)
    ensure_test_image()
    say('the images of %s and tools (playbooks/images.yml: minutes on a cold machine)' % ', '.join(STACK_SERVICES))
    build_images(STACK_SERVICES)
    say('the lab nodes\' image (tests/integration/shared_images.yml)')
    run = run_playbook('tests/integration/shared_images.yml', timeout=2400)
    assert run.rc == 0, run.explain()
    say('the same images under the tag of the Molecule lab (%s)' % LAB_TAG)
    tag_for_the_lab()


# The Molecule lab builds and pushes its own tag of every image (molecule/lab/settings.yml:
# kargo_build_tag): tests of the other stream rebuild the default tag with other settings
# (test_stack: another gunicorn), which would change the lab's images between two of its
# runs. Tagged from the images just built: the same build hash, nothing to build again.
with open(os.path.join(ROOT, 'molecule', 'lab', 'settings.yml')) as _lab_settings:
    LAB_TAG = yaml.safe_load(_lab_settings)['kargo_build_tag']


def tag_for_the_lab():
    for name, image in built_names().items():
        repository = image.rpartition(':')[0]
        if name != 'base' and engine().images.list(name=image):
            engine().images.get(image).tag(repository, LAB_TAG)


def built_names():
    """kargo_built_images as the defaults name them (namespace geostack-kargo, tag 0.1.0)."""
    with open(os.path.join(ROOT, 'roles', 'common', 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    values = {'kargo_build_namespace': defaults['kargo_build_namespace'], 'kargo_build_tag': defaults['kargo_build_tag']}
    return dict((name, jinja2.Template(tag).render(values)) for name, tag in defaults['kargo_built_images'].items())


def project_containers(project):
    return engine().containers.list(all=True, filters={'label': 'com.docker.compose.project=%s' % project})


def container_ids(project):
    return dict((c.labels['com.docker.compose.service'], c.id) for c in project_containers(project))


def task(module, check_mode=False, **args):
    """One playbook task calling `module` with `args`."""
    return {module: args, 'check_mode': check_mode}


BAD_COMPOSE_FILES = {
    'BROKEN': ('broken.yml', 'services:\n  web: [unclosed\n'),
    'CLASH': ('clash.yml', 'services:\n  web:\n    image: a\n  web:\n    image: b\n'),
}


def with_bad_files(directory, files):
    """`files` with the placeholders BROKEN (unparsable) and CLASH (a service twice) written into `directory`."""
    paths = []
    for path in files:
        if path in BAD_COMPOSE_FILES:
            name, text = BAD_COMPOSE_FILES[path]
            (directory / name).write_text(text)
            path = str(directory / name)
        paths.append(path)
    return paths


def program_output(result):
    """The end of what a failed command printed: its message alone says only 'non-zero return code'."""
    if result.get('msg') != 'non-zero return code':
        return ''
    said = (result.get('stderr') or result.get('stdout') or '').strip()
    return ' | output: %s' % said[-800:] if said else ''


class PlaybookRun(object):
    """What one ansible-playbook run reported (ansible.posix.json callback)."""

    def __init__(self, rc, report, stdout, stderr, seconds):
        self.rc = rc
        self.report = report
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def stats(self, host='localhost'):
        return self.report.get('stats', {}).get(host, {})

    def task_results(self, host='localhost'):
        """(task name, result) for every task that ran on `host`, in order."""
        for one_play in self.report.get('plays', []):
            for one_task in one_play['tasks']:
                if host in one_task['hosts']:
                    yield one_task['task']['name'], one_task['hosts'][host]

    def changed_tasks(self, host='localhost'):
        return [name for name, result in self.task_results(host) if result.get('changed')]

    def messages(self, host='localhost'):
        """The `msg` of every task result on `host`, loop items included, in order."""
        found = []
        for _name, result in self.task_results(host):
            for one in [result] + list(result.get('results') or []):
                if 'msg' in one:
                    found.append(str(one['msg']))
        return found

    def deploy_plans(self, host='localhost'):
        """What each deploy task (compose_project, swarm_stack) did on `host`, or in check mode
        would do: ({project: [(service, action, reasons)]}, {project: files changed that no
        service reads})."""
        plans, unread = {}, {}
        for _name, result in self.task_results(host):
            args = result.get('invocation', {}).get('module_args', {})
            project_name = args.get('project_name') or args.get('name')
            if project_name and 'services' in result:
                plans[project_name] = [(s['service'], s['action'], s['reasons']) for s in result['services']]
                unread[project_name] = result.get('unread_pending', [])
        return plans, unread

    def failure_messages(self, host='localhost'):
        messages = []
        for name, result in self.task_results(host):
            if result.get('failed') and not result.get('skipped'):
                items = [r for r in result.get('results', []) if r.get('failed')] or [result]
                messages.extend('%s: %s%s' % (name, item.get('msg', ''), program_output(item)) for item in items)
        return messages

    def hosts(self):
        return sorted(self.report.get('stats', {})) or ['localhost']

    def explain(self):
        """rc, and the failures and changed tasks of every host (a lab's runs are on its nodes)."""
        per_host = ''.join('\n%s: failures: %s\n%s: changed: %s' % (host, self.failure_messages(host), host,
                                                                     self.changed_tasks(host)) for host in self.hosts())
        return 'rc=%s%s\nstderr: %s' % (self.rc, per_host, self.stderr[-3000:])


def run_playbook(playbook, extra_vars=None, inventory=None, timeout=3600, options=()):
    """Run a playbook file of this checkout (path relative to the repo root) with extra vars
    and more ansible-playbook options (e.g. --check)."""
    options = (['-e', json.dumps(extra_vars)] if extra_vars else []) + list(options)
    completed, seconds = ansible_playbook(os.path.join(ROOT, playbook), options, inventory=inventory, timeout=timeout)
    try:
        report = json.loads(completed.stdout[completed.stdout.index('{'):])
    except ValueError:
        report = {}
    return PlaybookRun(completed.returncode, report, completed.stdout, completed.stderr, seconds)


@contextlib.contextmanager
def fresh_lab(settings):
    """A lab made by playbooks/lab.yml from new nodes, removed at the end, also when the
    set-up or a test failed. A lab of the same prefix left by a run that was stopped (its
    nodes keep their files, and lab.yml would start them again) is removed first: a first
    run on it would find its hosts already configured."""
    run_playbook('playbooks/lab.yml', dict(settings, lab_state='absent'))
    try:
        made = run_playbook('playbooks/lab.yml', settings)
        assert made.rc == 0, made.explain()
        yield made
    finally:
        removed = run_playbook('playbooks/lab.yml', dict(settings, lab_state='absent'))
        assert removed.rc == 0, removed.explain()
