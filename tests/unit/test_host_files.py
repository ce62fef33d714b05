"""Files as a check-mode deploy must see them: the host's, with what an earlier task would write."""
import hashlib

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError
from ansible_collections.geostack.kargo.plugins.module_utils.compose_sources import PENDING_IMAGE, ComposeSources
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import file_digest
from ansible_collections.geostack.kargo.plugins.module_utils.host_files import UNKNOWN_CONTENT, PendingFiles

COMPOSE = '''services:
  web:
    image: web:1
    volumes:
      - ./web.conf:/etc/web.conf:ro
      - ./conf.d:/etc/conf.d:ro
'''


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


@pytest.fixture()
def project(tmp_path):
    (tmp_path / 'compose.yml').write_text(COMPOSE)
    (tmp_path / 'web.conf').write_text('a = 1\n')
    (tmp_path / 'conf.d' / 'sub').mkdir(parents=True)
    (tmp_path / 'conf.d' / 'b.conf').write_text('b\n')
    (tmp_path / 'conf.d' / 'sub' / 'c.conf').write_text('c\n')
    (tmp_path / 'conf.d' / 'z.conf').write_text('z\n')
    return tmp_path


def test_without_pending_files_the_digests_are_the_hosts(project):
    files = PendingFiles({})
    for name in ('web.conf', 'conf.d', 'compose.yml'):
        assert files.digest(str(project / name)) == file_digest(str(project / name))


def test_a_pending_file_in_a_folder_gives_the_digest_the_folder_will_have(project):
    pending = {str(project / 'conf.d' / 'sub' / 'a.conf'): {'content': 'new\n'},
               str(project / 'conf.d' / 'b.conf'): {'content': 'b2\n', 'sha256': sha('b2\n')}}
    planned = PendingFiles(pending).digest(str(project / 'conf.d'))
    (project / 'conf.d' / 'sub' / 'a.conf').write_text('new\n')
    (project / 'conf.d' / 'b.conf').write_text('b2\n')
    assert planned == file_digest(str(project / 'conf.d'))


def test_a_pending_file_is_read_from_its_content_and_a_secret_counts_as_changed(project):
    files = PendingFiles({str(project / 'web.conf'): {'content': 'a = 2\n'}, str(project / 'secret'): {}})
    assert files.read_text(str(project / 'web.conf')) == 'a = 2\n'
    assert files.digest(str(project / 'web.conf')) == sha('a = 2\n')
    assert files.digest(str(project / 'secret')) == UNKNOWN_CONTENT and files.is_file(str(project / 'secret'))
    with pytest.raises(ComposeError) as error:
        files.read_text(str(project / 'secret'))
    assert 'is pending without its content' in str(error.value)


def test_a_project_not_written_yet_is_planned_from_its_pending_files(tmp_path):
    folder = tmp_path / 'new'
    pending = {str(folder / 'compose.yml'): {'content': COMPOSE}, str(folder / 'web.conf'): {'content': 'a\n'},
               str(folder / 'conf.d' / 'x.conf'): {'content': 'x\n'}}
    with pytest.raises(ComposeError):
        ComposeSources([str(folder / 'compose.yml')], None, None)
    sources = ComposeSources([str(folder / 'compose.yml')], None, None, PendingFiles(pending))
    inputs = sources.desired_states(lambda image: 'sha256:0123456789abcdef', lambda service: 1)['web'].inputs
    assert inputs['volume:./web.conf'] == sha('a\n')[:12]
    assert set(inputs) == {'definition', 'image', 'volume:./web.conf', 'volume:./conf.d'}


def test_pending_images_count_as_changed_and_only_in_check_mode(project):
    params = {'files': [str(project / 'compose.yml')], 'definition': None, 'project_src': None,
              'pending': {str(project / 'web.conf'): {'content': 'a = 2\n'}}, 'pending_images': ['web:1']}
    states = ComposeSources.from_params(params, check_mode=True).desired_states(lambda image: 'sha256:aaaa', lambda s: 1)
    assert states['web'].inputs['image'] == PENDING_IMAGE.split(':')[-1][:12]
    assert states['web'].inputs['volume:./web.conf'] == sha('a = 2\n')[:12]
    real = ComposeSources.from_params(params, check_mode=False).desired_states(lambda image: 'sha256:aaaa', lambda s: 1)
    assert real['web'].inputs['image'] == 'aaaa'
    assert real['web'].inputs['volume:./web.conf'] == file_digest(str(project / 'web.conf'))[:12]


def test_pending_files_no_service_reads_are_named(project):
    pending = {str(project / 'web.conf'): {'content': 'a = 2\n'}, str(project / 'conf.d' / 'new.conf'): {'content': 'n\n'},
               str(project / 'compose.yml'): {'content': COMPOSE}, str(project / 'seed.yaml'): {'content': 's\n'},
               str(project / 'compose.swarm.yml'): {'content': 'services: {}\n'}}
    sources = ComposeSources([str(project / 'compose.yml')], None, None, PendingFiles(pending))
    assert sources.unread_pending() == [str(project / 'compose.swarm.yml'), str(project / 'seed.yaml')]


def test_pending_files_of_a_reloaded_mount_are_named_as_reloaded_not_unread(project):
    """The proxy's site folder: its role reloads nginx, the deploy restarts nothing for it."""
    (project / 'compose.yml').write_text(COMPOSE + '''    labels:
      org.geostack.kargo.reloaded-mounts: /etc/conf.d
''')
    pending = {str(project / 'conf.d' / 'b.conf'): {'content': 'b2\n'}, str(project / 'seed.yaml'): {'content': 's\n'}}
    sources = ComposeSources([str(project / 'compose.yml')], None, None, PendingFiles(pending))
    assert sources.unread_pending() == [str(project / 'seed.yaml')]
    assert sources.reloaded_pending() == {str(project / 'conf.d' / 'b.conf'): 'web'}
    result, diff = {}, {'after': {}}
    sources.report_unread_pending(result, diff)
    assert result['reloaded_pending'] == [str(project / 'conf.d' / 'b.conf')]
    assert diff['after']['reloaded_pending'] == ['%s: web applies it with a reload, no restart' % (project / 'conf.d' / 'b.conf')]
    assert 'volume:./conf.d' not in sources.desired_states(lambda image: 'sha256:aa', lambda s: 1)['web'].inputs
