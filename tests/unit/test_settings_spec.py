"""Settings checked against the roles' argument specs (module_utils/settings_spec.py), and a
test generated from every spec: each setting of each role fails for a value of the wrong
type (and outside its choices, pattern or range), naming that setting."""
import datetime
import glob
import os

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.geostack.kargo.plugins.module_utils.settings_spec import (
    check_file, check_value, key_matches_certificate, type_ok)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(ROOT, 'roles', '*')))


def load(role, kind):
    path = os.path.join(ROOT, 'roles', role, kind)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def spec_options(role):
    return load(role, 'meta/argument_specs.yml')['argument_specs']['main']['options']


EVERY_OPTION = [(role, name, option) for role in ROLES for name, option in sorted(spec_options(role).items())]
# a value of another type than each spec type (none of the strings -e name=value gives for it)
WRONG = {'str': ['a', 'list'], 'path': {'a': 'dict'}, 'int': 'twelve', 'float': 'ten days', 'bool': 'maybe',
         'list': 'one, two', 'dict': ['not', 'a', 'dict']}


def test_every_setting_in_the_defaults_has_a_typed_spec():
    """A setting added to defaults/main.yml without a spec fails here."""
    missing = ['%s: %s' % (role, name) for role in ROLES for name in load(role, 'defaults/main.yml')
               if name not in spec_options(role)]
    assert missing == []
    untyped = ['%s: %s' % (role, name) for role, name, option in EVERY_OPTION if 'type' not in option]
    assert untyped == []


@pytest.mark.parametrize('role, name, option', [o for o in EVERY_OPTION if o[2]['type'] != 'raw'],
                         ids=['%s-%s' % (o[0], o[1]) for o in EVERY_OPTION if o[2]['type'] != 'raw'])
def test_a_value_of_the_wrong_type_fails_naming_the_setting(role, name, option):
    errors = check_value(name, WRONG[option['type']], option)
    assert errors and all(error.startswith(name + ':') for error in errors), errors


WITH_CHOICES = [o for o in EVERY_OPTION if 'choices' in o[2]]


@pytest.mark.parametrize('role, name, option', WITH_CHOICES, ids=['%s-%s' % (o[0], o[1]) for o in WITH_CHOICES])
def test_a_value_outside_the_choices_fails_naming_the_setting(role, name, option):
    outside = {'str': 'not-a-choice', 'int': 999999, 'list': ['not-a-choice']}[option['type']]
    errors = check_value(name, outside, option)
    assert errors and errors[0].startswith(name + ': ') and 'is not one of' in errors[0], errors


WITH_PATTERN = [o for o in EVERY_OPTION if 'pattern' in o[2]]


@pytest.mark.parametrize('role, name, option', WITH_PATTERN, ids=['%s-%s' % (o[0], o[1]) for o in WITH_PATTERN])
def test_a_value_outside_the_pattern_fails_naming_the_setting(role, name, option):
    errors = check_value(name, 'Not Valid; at all', option)
    assert errors == ['%s: "Not Valid; at all" %s' % (name, option.get('pattern_why', 'must match ' + option['pattern']))]


def test_the_defaults_that_are_plain_values_pass_their_spec():
    failing = []
    for role, name, option in EVERY_OPTION:
        value = load(role, 'defaults/main.yml').get(name)
        if value is None or '{{' in yaml.safe_dump(value):
            continue  # made from other settings: checked once rendered, in a run
        failing.extend(check_value(name, value, option))
    assert failing == []


def test_strings_from_the_command_line_pass_as_numbers_and_booleans():
    assert type_ok('8080', 'int') and type_ok(8080, 'int') and not type_ok('80.5', 'int') and not type_ok(True, 'int')
    assert type_ok('0.5', 'float') and type_ok(7, 'float') and not type_ok('weekly', 'float')
    assert type_ok('true', 'bool') and type_ok('no', 'bool') and not type_ok('maybe', 'bool')
    assert type_ok('17', 'str') and type_ok(17, 'str') and not type_ok(['a'], 'str')
    assert not type_ok('postgis', 'list') and not type_ok({'a': 1}, 'list') and not type_ok([], 'dict')


def test_messages_name_the_setting_the_value_and_what_is_expected():
    spec = {'type': 'list', 'elements': 'str', 'choices': ['a', 'b']}
    assert check_value('kargo_services', 'a', spec) == ['kargo_services: a must be a list of strings']
    assert check_value('kargo_services', ['a', 'x', 'y'], spec) == ['kargo_services: x, y are not one of a, b']
    assert check_value('kargo_services', ['a', 3], {'type': 'list', 'elements': 'dict'}) == \
        ["kargo_services: ['a', 3] must be a list of mappings (key: value): a, 3 are not"]
    port = {'type': 'int', 'min': 1, 'max': 65535}
    assert check_value('kargo_registry_port', '70000', port) == ['kargo_registry_port: 70000 must be between 1 and 65535']
    assert check_value('kargo_registry_port', '5000', port) == []


def test_a_secret_is_named_without_its_value():
    errors = check_value('kargo_db_password', ['s3cret'], {'type': 'str', 'no_log': True})
    assert errors == ['kargo_db_password: must be a string'] and 's3cret' not in errors[0]
    errors = check_value('kargo_db_password', 's3cret', {'type': 'str', 'no_log': True, 'pattern': '^x'})
    assert errors == ['kargo_db_password: the value must match ^x']


def certificate_and_key(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    certificate_path, key_path = tmp_path / (name + '.crt'), tmp_path / (name + '.key')
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(certificate_path), str(key_path)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def test_files_are_checked_for_what_they_must_be(tmp_path):
    certificate, key = certificate_and_key(tmp_path, 'one')
    other_certificate, other_key = certificate_and_key(tmp_path, 'two')
    assert check_file('c', certificate, 'pem_certificate', read) is None
    assert check_file('k', key, 'private_key', read) is None
    assert check_file('c', key, 'pem_certificate', read) == 'c: %s is not a PEM certificate (-----BEGIN CERTIFICATE-----)' % key
    assert check_file('k', certificate, 'private_key', read) == 'k: %s is not a PEM private key (unencrypted)' % certificate
    assert check_file('c', '/nonexistent/x.crt', 'readable', read) == 'c: /nonexistent/x.crt does not exist on the controller'
    assert key_matches_certificate(read(key), read(certificate)) is True
    assert key_matches_certificate(read(other_key), read(certificate)) is False


def test_settings_that_may_hold_credentials_are_never_shown():
    """Passwords, and proxy and mirror URLs (user:password@host), are named without their value."""
    secret = 'http://user:s3cret@proxy.example.org:3128'
    for role, name in (('images', 'images_http_proxy'), ('images', 'images_https_proxy'),
                       ('images', 'images_pip_index_url'), ('images', 'images_npm_registry'),
                       ('common', 'kargo_db_password'), ('geoserver', 'geoserver_admin_password')):
        errors = check_value(name, [secret], spec_options(role)[name])
        assert errors and errors[0].startswith(name + ':') and 's3cret' not in ' '.join(errors), errors


def test_a_file_setting_may_start_with_the_home_folder(tmp_path, monkeypatch):
    """proxy_tls_certificate_file: ~/certs/... as the proxy role's copy task takes it."""
    from ansible_collections.geostack.kargo.plugins.action.validate_settings import read_bytes
    monkeypatch.setenv('HOME', str(tmp_path))
    certificate, key = certificate_and_key(tmp_path, 'home')
    assert check_file('c', '~/home.crt', 'pem_certificate', read_bytes) is None
    assert key_matches_certificate(read_bytes('~/home.key'), read_bytes('~/home.crt')) is True


def test_the_lists_of_services_and_roles_agree_with_their_twins():
    """kargo_services' choices are common's kargo_known_services, and check_specs.yml checks
    every role that has settings but the lab (checked by playbooks/lab.yml)."""
    assert spec_options('common')['kargo_services']['choices'] == load('common', 'vars/main.yml')['kargo_known_services']
    checked = load('common', 'tasks/check_specs.yml')[0]['geostack.kargo.validate_settings']['roles']
    assert sorted(checked) == sorted(role for role in ROLES if spec_options(role) and role != 'lab')
