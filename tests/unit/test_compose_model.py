"""Pure compose logic: parsing, interpolation, merging, validation."""
import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import (
    ComposeError, interpolate, merge_documents, parse_compose_text, validate_model)


def test_duplicate_service_is_refused_with_both_lines():
    with pytest.raises(ComposeError, match=r"base.yml: key 'web' is defined twice in the same mapping \(line 2 and line 4\)"):
        parse_compose_text('services:\n  web: {image: a}\n\n  web: {image: b}\n', 'base.yml')


def test_unparsable_and_non_mapping_documents():
    with pytest.raises(ComposeError, match='x.yml does not parse as YAML'):
        parse_compose_text('services: [', 'x.yml')
    with pytest.raises(ComposeError, match='must hold a mapping at its top level, not list'):
        parse_compose_text('- a\n- b\n', 'x.yml')
    assert parse_compose_text('', 'empty.yml') == {}


def test_interpolation_follows_compose():
    env = {'TAG': '1.2', 'EMPTY': ''}
    assert interpolate('img:${TAG}', env) == 'img:1.2'
    assert interpolate('$TAG-$$HOME', env) == '1.2-$HOME'
    assert interpolate('${MISSING:-dflt} ${EMPTY:-e} ${EMPTY-kept}', env) == 'dflt e '
    assert interpolate({'a': ['${TAG:+set}', '${MISSING+no}']}, env) == {'a': ['set', '']}
    with pytest.raises(ComposeError, match='required variable MISSING is missing in f.yml: say it'):
        interpolate('${MISSING:?say it}', env, 'f.yml')
    with pytest.raises(ComposeError, match='invalid interpolation'):
        interpolate('${1BAD}', env)


def test_overlay_merges_like_docker_compose():
    base = {'services': {'web': {
        'image': 'nginx', 'command': ['a', 'b'], 'environment': ['A=1', 'B=2'],
        'ports': ['80:80'], 'volumes': ['./conf:/etc/conf:ro', 'data:/data'],
        'healthcheck': {'test': ['CMD', 'true'], 'interval': '5s'}, 'dns': ['1.1.1.1'],
        'networks': ['front']}}}
    overlay = {'services': {'web': {
        'command': ['c'], 'environment': {'B': '3', 'C': '4'}, 'ports': ['443:443'],
        'volumes': ['./other:/etc/conf:ro'], 'healthcheck': {'test': ['CMD', 'false']},
        'dns': ['1.1.1.1', '9.9.9.9'], 'networks': {'back': {}},
        'deploy': {'replicas': 2}}}}
    web = merge_documents([base, overlay])['services']['web']
    assert web['command'] == ['c']
    assert web['environment'] == {'A': '1', 'B': '3', 'C': '4'}
    assert web['ports'] == ['80:80', '443:443']
    assert web['volumes'] == ['./other:/etc/conf:ro', 'data:/data'], 'volumes merge by target'
    assert web['healthcheck'] == {'test': ['CMD', 'false'], 'interval': '5s'}
    assert web['dns'] == ['1.1.1.1', '9.9.9.9']
    assert web['networks'] == {'front': None, 'back': {}}
    assert web['deploy'] == {'replicas': 2}
    assert base['services']['web']['command'] == ['a', 'b'], 'inputs are not modified'


def test_validation_names_the_problem():
    with pytest.raises(ComposeError, match='defines no services'):
        validate_model({})
    with pytest.raises(ComposeError, match="service 'web' has neither image nor build"):
        validate_model({'services': {'web': {}}})
    with pytest.raises(ComposeError, match="service name 'bad name' is not valid"):
        validate_model({'services': {'bad name': {'image': 'a'}}})
    with pytest.raises(ComposeError, match="services 'a' and 'b' both use container_name 'x'"):
        validate_model({'services': {'a': {'image': 'i', 'container_name': 'x'}, 'b': {'image': 'i', 'container_name': 'x'}}})
    with pytest.raises(ComposeError, match="service 'a' uses secret 'pw', which is not declared"):
        validate_model({'services': {'a': {'image': 'i', 'secrets': ['pw']}}})
