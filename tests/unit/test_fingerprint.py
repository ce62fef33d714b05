"""Fingerprints: what changes them and what does not."""
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import (
    HASH_LABEL, changed_inputs, fingerprint_labels, inputs_hash, normalize_service, read_inputs_label,
    referenced_files, service_inputs)


def model(tmp_path):
    (tmp_path / 'app.conf').write_text('a=1\n')
    (tmp_path / 'settings').mkdir()
    (tmp_path / 'settings' / 'x.ini').write_text('x\n')
    (tmp_path / 'data').mkdir()
    (tmp_path / 'page.html').write_text('<p>hi</p>')
    (tmp_path / 'env').write_text('A=1\n')
    return {'services': {'web': {
        'image': 'nginx',
        'volumes': ['./app.conf:/etc/app.conf:ro', './settings:/etc/settings:ro', './data:/data', 'named:/var/lib',
                    {'type': 'bind', 'source': './page.html', 'target': '/www/index.html'}],
        'configs': ['cfg'], 'env_file': './env'}},
        'configs': {'cfg': {'file': './app.conf'}}}


def test_referenced_files_skip_data_directories_and_named_volumes(tmp_path):
    files = referenced_files(model(tmp_path), 'web', str(tmp_path))
    assert sorted(files) == ['config:cfg', 'env_file:./env', 'volume:./app.conf', 'volume:./page.html', 'volume:./settings']
    assert files['volume:./app.conf'] == str(tmp_path / 'app.conf')


def test_file_content_changes_only_its_input(tmp_path):
    m = model(tmp_path)
    before = service_inputs(m, 'web', str(tmp_path), image_id='sha256:abcdef0123456789')
    (tmp_path / 'settings' / 'x.ini').write_text('y\n')
    (tmp_path / 'data' / 'db').write_text('written by the service')
    after = service_inputs(m, 'web', str(tmp_path), image_id='sha256:abcdef0123456789')
    assert changed_inputs(before, after) == ['volume:./settings']
    assert inputs_hash(before) != inputs_hash(after)
    assert before['image'] == 'abcdef012345'


def test_the_mounts_a_role_reloads_itself_are_not_inputs(tmp_path):
    """The proxy's site and TLS folders: nginx reloads their changes, no new container."""
    m = model(tmp_path)
    m['services']['web']['labels'] = {'org.geostack.kargo.reloaded-mounts': '/etc/settings /www/index.html'}
    assert sorted(referenced_files(m, 'web', str(tmp_path))) == ['config:cfg', 'env_file:./env', 'volume:./app.conf']
    before = service_inputs(m, 'web', str(tmp_path))
    (tmp_path / 'settings' / 'x.ini').write_text('y\n')
    assert changed_inputs(before, service_inputs(m, 'web', str(tmp_path))) == []
    m['services']['web']['labels'] = ['org.geostack.kargo.reloaded-mounts=/etc/app.conf']
    assert 'volume:./app.conf' not in referenced_files(m, 'web', str(tmp_path))


def test_own_labels_do_not_change_the_definition_digest():
    plain = {'image': 'a', 'labels': {'x': '1'}, 'deploy': {'labels': {'y': '2'}}}
    labelled = {'image': 'a', 'labels': {'x': '1', HASH_LABEL: 'h'}, 'deploy': {'labels': {'y': '2', HASH_LABEL: 'h'}}}
    assert normalize_service(plain) == normalize_service(labelled)
    assert normalize_service({'b': 1, 'a': 2}) == normalize_service({'a': 2, 'b': 1})
    assert normalize_service(plain) != normalize_service(dict(plain, image='b'))


def test_labels_round_trip(tmp_path):
    inputs = {'definition': 'abc', 'volume:./a': 'def'}
    labels = fingerprint_labels(inputs)
    assert labels[HASH_LABEL] == inputs_hash(inputs)
    assert read_inputs_label(labels) == inputs
    assert read_inputs_label({}) == {} and read_inputs_label({'org.geostack.kargo.inputs': 'not json'}) == {}
