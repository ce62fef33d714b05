"""playbooks/images.yml in build mode: every needed image built from Debian packages and
labelled with its build hash; a second run builds nothing; bad settings fail naming the
setting; a failing build shows the end of its log; the GeoServer template renders."""
import hashlib
import json
import os

import jinja2
import pytest

from kargo_testlib import ROOT, built_names, engine, run_playbook

PREFIX = 'kargo-test-images'
ROOT_DIR = '/tmp/kargo-test-images'
HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'
SETTINGS = {
    'kargo_prefix': PREFIX,
    'kargo_root': ROOT_DIR,
    'kargo_image_source': 'build',
    'images_extra_ca_files': [HOST_CA_BUNDLE],
}
LABEL = 'org.geostack.kargo.build-hash'
# kargo_services default (geoserver included: skipped without an archive) + tools
BUILT = ('postgis', 'qgis_server', 'mapproxy', 'tileserver_gl', 'proxy', 'tools')
GEOSERVER_SKIPPED = ('no GeoServer archive set in images_geoserver_archive, '
                     'GeoServer has no Debian/PyPI/npm package; geoserver skipped')
TEMPLATES = os.path.join(ROOT, 'roles', 'images', 'templates')


def images(**more):
    return run_playbook('playbooks/images.yml', dict(SETTINGS, **more))


def results(run):
    """Every task result of the run, loop items included."""
    for _name, result in run.task_results():
        yield result
        for item in result.get('results', []) or []:
            yield item


def builds(run):
    """The tags `docker build` ran for (the finished background jobs of run_logged.yml)."""
    tags = []
    for result in results(run):
        command = str(result.get('cmd', ''))
        if command.startswith('docker build') and result.get('finished'):
            tags.append(command.split('--tag ', 1)[1].split()[0])
    return tags


@pytest.fixture(scope='module', autouse=True)
def networks_removed():
    """images.yml runs the common role, which makes the shared networks: remove ours at the end."""
    yield
    for network in engine().networks.list(names=['%s-front' % PREFIX, '%s-back' % PREFIX]):
        network.remove()


@pytest.fixture(scope='module')
def first_run():
    run = images()
    assert run.rc == 0, run.explain()
    print('\nimages.yml, build mode, first run: %.1f s, built: %s' % (run.seconds, builds(run)))
    return run


@pytest.fixture(scope='module')
def second_run(first_run):
    run = images()
    assert run.rc == 0, run.explain()
    print('\nimages.yml, build mode, second run: %.1f s' % run.seconds)
    return run


def test_every_needed_image_is_there_with_its_build_hash(first_run):
    names = built_names()
    assert engine().images.get(names['base'])
    for image in BUILT:
        labels = engine().images.get(names[image]).labels or {}
        assert len(labels.get(LABEL, '')) == 64, (image, labels)


def test_the_label_is_the_hash_of_the_context_files_and_the_base(first_run):
    """Recomputed here the way build_one.yml documents it (tools: no build args)."""
    names = built_names()
    context = os.path.join(ROOT_DIR, 'images', 'tools')
    files = []
    for directory, _dirs, filenames in os.walk(context):
        for filename in filenames:
            if filename.startswith('build.log'):
                continue
            path = os.path.join(directory, filename)
            with open(path, 'rb') as handle:
                files.append((os.path.relpath(path, context), hashlib.sha256(handle.read()).hexdigest()))
    assert sorted(name for name, _ in files) == ['.dockerignore', 'Dockerfile', 'extra-ca.crt', 'kargo_data.py']
    inputs = {'files': ['%s %s' % pair for pair in sorted(files)], 'build_args': {},
              'from': engine().images.get(names['base']).id}
    expected = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    assert engine().images.get(names['tools']).labels[LABEL] == expected
    with open(os.path.join(context, 'extra-ca.crt'), 'rb') as ca, open(HOST_CA_BUNDLE, 'rb') as bundle:
        assert ca.read().strip() == bundle.read().strip()


def test_geoserver_is_skipped_with_the_reason(first_run):
    assert GEOSERVER_SKIPPED in first_run.messages()
    assert not [tag for tag in builds(first_run) if 'geoserver' in tag]
    assert not os.path.exists(os.path.join(ROOT_DIR, 'images', 'geoserver'))


def test_second_run_builds_nothing(second_run):
    assert second_run.stats().get('changed', 0) == 0, second_run.changed_tasks()
    assert builds(second_run) == []
    up_to_date = [message for message in second_run.messages() if ' is up to date (build hash ' in message]
    assert len(up_to_date) == len(BUILT), up_to_date
    assert second_run.seconds < 60


def test_a_failing_build_shows_the_end_of_its_log(first_run):
    """An unreachable PyPI mirror: the mapproxy build fails at pip; its tag is left alone."""
    tag = built_names()['mapproxy']
    before = engine().images.get(tag).id
    run = images(kargo_services=['mapproxy'], kargo_sample_data=False, images_pip_index_url='http://127.0.0.1:9/simple')
    assert run.rc != 0
    failures = run.failure_messages()
    print('\n' + '\n'.join(failures))
    message = [failure for failure in failures if 'Building mapproxy image %s failed' % tag in failure]
    assert message, run.explain()
    assert 'full log: %s/images/mapproxy/build.log; its last lines:' % ROOT_DIR in message[0]
    assert 'pip install' in message[0] or '127.0.0.1' in message[0]
    assert engine().images.get(tag).id == before


@pytest.mark.parametrize('settings, message', [
    ({'images_extra_ca_files': ['/nonexistent/kargo-extra-ca.pem']},
     'images_extra_ca_files: /nonexistent/kargo-extra-ca.pem does not exist on localhost nor on the controller'),
    ({'images_geoserver_archive': '/nonexistent/geoserver-2.27.2-bin.zip'},
     'images_geoserver_archive: /nonexistent/geoserver-2.27.2-bin.zip does not exist on the controller'),
    ({'images_geoserver_archive': '/tmp/geoserver.tar.gz'},
     'images_geoserver_archive: /tmp/geoserver.tar.gz is neither a GeoServer "bin" .zip nor a web archive'),
    ({'images_apt_mirror': 'http://mirror.example.org/debian#x'},
     'images_apt_mirror: http://mirror.example.org/debian#x is not an http(s):// URL'),
], ids=['missing-extra-ca', 'missing-geoserver-archive', 'geoserver-archive-kind', 'apt-mirror-with-hash'])
def test_bad_setting_fails_before_any_build(settings, message):
    run = images(**settings)
    print('\n' + '\n'.join(run.failure_messages()))
    assert run.rc != 0
    assert any(message in failure for failure in run.failure_messages()), run.explain()
    assert builds(run) == []
    assert not [name for name in run.changed_tasks() if 'image' in name.lower()]


# --- the GeoServer template: rendered only (no archive to build it from here) ----------

def render(template, **values):
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                                     trim_blocks=True)
    return environment.get_template(template).render(**values)


def instructions(dockerfile):
    """Dockerfile instructions (continuation lines joined, comments dropped)."""
    joined = dockerfile.replace('\\\n', ' ')
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith('#')]


@pytest.mark.parametrize('kind', ['bin', 'war'])
def test_geoserver_template_renders(kind):
    text = render('geoserver.Dockerfile.j2', base_image='geostack-kargo/debian:trixie', geoserver_kind=kind,
                  apt_mirror='http://mirror.example.org/debian', apt_security_mirror='')
    steps = instructions(text)
    assert [s for s in steps if s.startswith('FROM ')] == [
        'FROM geostack-kargo/debian:trixie AS unpack', 'FROM geostack-kargo/debian:trixie']
    assert 'COPY geoserver-%s.zip /tmp/geoserver-%s.zip' % (kind, kind) in steps
    assert 'USER geoserver' in steps and 'EXPOSE 8080' in steps and 'VOLUME /var/lib/geoserver_data' in steps
    assert any('GEOSERVER_DATA_DIR=/var/lib/geoserver_data' in s for s in steps)
    assert any(s.startswith('HEALTHCHECK ') and '/geoserver/web/' in s for s in steps)
    assert any('default-jre-headless' in s for s in steps)
    assert any('mirror.example.org' in s for s in steps)
    assert ('tomcat10' in ' '.join(steps)) == (kind == 'war')
    assert ('start.jar' in ' '.join(steps)) == (kind == 'bin')
    # no empty line inside a continued instruction
    assert '\\\n\n' not in text


@pytest.mark.parametrize('template', sorted(name for name in os.listdir(TEMPLATES) if name.endswith('.Dockerfile.j2')))
def test_every_dockerfile_template_renders_strictly(template):
    text = render(template, base_image='geostack-kargo/debian:trixie', geoserver_kind='bin', lab_node_packages=['docker.io'])
    assert instructions(text)[0].startswith('FROM geostack-kargo/debian:trixie')
    assert '\\\n\n' not in text
