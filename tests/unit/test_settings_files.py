"""The logic of geostack.kargo.render_files: what is written, what is left alone, what is reported."""
import os
import stat

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.settings_files import (
    ATTRIBUTES, CREATED, UNCHANGED, UPDATED, FilesError, apply, parse_mode, wanted_files)

ME = os.getuid()


def names(uid):
    return {'kargo': 1234}[uid]


def files(dest, *entries):
    return wanted_files(str(dest), [dict(entry) for entry in entries], lookup_uid=names, lookup_gid=names)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def states(result):
    return dict((entry['path'], entry['state']) for entry in result['files'])


def test_first_run_creates_folders_and_files_second_run_changes_nothing(tmp_path):
    dest = tmp_path / 'svc'
    wanted = files(dest, {'path': 'a.conf', 'content': 'a=1\n', 'mode': '0644'},
                   {'path': 'sub/b.conf', 'content': 'b\n', 'mode': '0600'})
    first = apply(str(dest), [str(dest / 'sub'), str(tmp_path / 'data')], wanted, [])
    assert first['changed'] is True
    assert states(first) == {'a.conf': CREATED, 'sub/b.conf': CREATED}
    assert first['changed_files'] == ['a.conf', 'sub/b.conf']
    assert (dest / 'a.conf').read_text() == 'a=1\n'
    assert mode_of(dest / 'sub' / 'b.conf') == 0o600
    assert mode_of(dest) == 0o755 and mode_of(tmp_path / 'data') == 0o755

    second = apply(str(dest), [str(dest / 'sub'), str(tmp_path / 'data')], wanted, [])
    assert second['changed'] is False
    assert states(second) == {'a.conf': UNCHANGED, 'sub/b.conf': UNCHANGED}
    assert second['changed_files'] == [] and second['folders'] == []


def test_only_the_file_whose_content_changed_is_rewritten(tmp_path):
    apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'one'}, {'path': 'b', 'content': 'same'}), [])
    b_inode = os.stat(str(tmp_path / 'b')).st_ino
    result = apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'two'}, {'path': 'b', 'content': 'same'}),
                   [], keep_before=True)
    assert states(result) == {'a': UPDATED, 'b': UNCHANGED}
    assert result['before'] == {'a': 'one'}
    assert (tmp_path / 'a').read_text() == 'two'
    assert os.stat(str(tmp_path / 'b')).st_ino == b_inode, 'an unchanged file must not be written again'


def test_a_wrong_mode_is_corrected_without_rewriting(tmp_path):
    apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'x', 'mode': '0644'}), [])
    os.chmod(str(tmp_path / 'a'), 0o666)
    inode = os.stat(str(tmp_path / 'a')).st_ino
    result = apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'x', 'mode': '0644'}), [], keep_before=True)
    assert states(result) == {'a': ATTRIBUTES} and result['changed'] is True
    assert result['before'] == {}, 'no content diff for a mode change'
    assert mode_of(tmp_path / 'a') == 0o644 and os.stat(str(tmp_path / 'a')).st_ino == inode


def test_check_mode_reports_and_writes_nothing(tmp_path):
    dest = tmp_path / 'svc'
    result = apply(str(dest), [str(dest / 'tls')], files(dest, {'path': 'a', 'content': 'x'}), [], check_mode=True)
    assert result['changed'] is True and states(result) == {'a': CREATED}
    assert not dest.exists()


def test_secret_files_get_no_checksum_and_no_diff(tmp_path):
    apply(str(tmp_path), [], files(tmp_path, {'path': 'pw', 'content': 'old', 'secret': True, 'mode': '0400'}), [])
    result = apply(str(tmp_path), [], files(tmp_path, {'path': 'pw', 'content': 'new', 'secret': True, 'mode': '0400'}),
                   [], keep_before=True)
    assert result['files'] == [{'path': 'pw', 'state': UPDATED}]
    assert result['before'] == {}
    assert mode_of(tmp_path / 'pw') == 0o400


def test_checksum_is_the_sha256_of_the_content(tmp_path):
    import hashlib
    result = apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'héllo\n'}), [])
    assert result['files'][0]['sha256'] == hashlib.sha256('héllo\n'.encode('utf-8')).hexdigest()


def test_absent_files_are_removed_once(tmp_path):
    (tmp_path / 'old.key').write_text('k')
    first = apply(str(tmp_path), [], [], ['old.key', 'never-there'])
    assert first['removed'] == ['old.key'] and first['changed'] is True
    assert not (tmp_path / 'old.key').exists()
    assert apply(str(tmp_path), [], [], ['old.key'])['changed'] is False


def test_no_temporary_file_is_left_behind(tmp_path):
    apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'x'}), [])
    apply(str(tmp_path), [], files(tmp_path, {'path': 'a', 'content': 'y'}), [])
    assert sorted(os.listdir(str(tmp_path))) == ['a']


@pytest.mark.parametrize('entry, message', [
    ({'path': '../escape', 'content': 'x'}, 'leaves dest'),
    ({'path': '/etc/passwd', 'content': 'x'}, 'must be a path relative to dest'),
    ({'path': 'a', 'content': None}, 'no content'),
    ({'path': 'a', 'content': 'x', 'mode': 'u+rw'}, "is not an octal mode"),
    ({'path': 'a', 'content': 'x', 'owner': 'nobody-here'}, 'user nobody-here does not exist'),
])
def test_bad_entries_fail_before_anything_is_written(tmp_path, entry, message):
    with pytest.raises(FilesError) as error:
        files(tmp_path / 'svc', {'path': 'ok', 'content': 'x'}, entry)
    assert message in str(error.value)
    assert not (tmp_path / 'svc').exists()


def test_owner_names_and_numbers(tmp_path):
    wanted = files(tmp_path, {'path': 'a', 'content': 'x', 'owner': 'kargo', 'group': '999'})
    assert (wanted[0].uid, wanted[0].gid) == (1234, 999)


def test_modes():
    assert parse_mode('0644', 'x') == 0o644
    assert parse_mode('400', 'x') == 0o400
    assert parse_mode(0o600, 'x') == 0o600
    assert parse_mode(None, 'x') is None
    with pytest.raises(FilesError):
        parse_mode('99999', 'x')


@pytest.mark.skipif(ME != 0, reason='changing owners needs root')
def test_owner_is_set_before_the_file_appears(tmp_path):
    apply(str(tmp_path), [], files(tmp_path, {'path': 'pw', 'content': 's', 'owner': '999', 'group': '999', 'mode': '0400'}), [])
    info = os.stat(str(tmp_path / 'pw'))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (999, 999, 0o400)
