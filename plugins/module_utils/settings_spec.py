# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The settings of the roles checked against their meta/argument_specs.yml, strictly.

Ansible's own argument spec check converts where a user needs an error: a string given
for a list becomes a list of its comma-separated parts ("postgis" passes), and a role's
spec is only checked when its `main` entry point runs. Here every option is checked for
its type without conversion (but for the strings `-e name=value` gives: "8080" is an int,
"true" a bool), then for what the spec adds to Ansible's keys:

    choices   the value (each element of a list) is one of them
    pattern   a regular expression a string (each string element of a list) matches
    min, max  bounds of an int or float
    file      a path on the controller that must be: readable (any file),
              pem_certificate (a PEM X.509 certificate), private_key (a PEM private key)
    key_of    for a private_key: the setting naming the certificate it must match

Each error is "<setting>: <value> <what is expected>"; a setting marked no_log is named
without its value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import re

try:
    from ansible.module_utils.six import string_types, integer_types
except ImportError:  # pragma: no cover
    string_types, integer_types = (str,), (int,)

TRUE_STRINGS = ('true', 'yes', 'on', '1')
FALSE_STRINGS = ('false', 'no', 'off', '0')
_INT = re.compile(r'^[+-]?[0-9]+$')
_FLOAT = re.compile(r'^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$')

TYPE_WORDS = {
    'str': 'a string', 'path': 'a path (a string)', 'int': 'a whole number', 'float': 'a number',
    'bool': 'true or false', 'list': 'a list', 'dict': 'a mapping (key: value)', 'raw': 'any value',
}
ELEMENT_WORDS = {
    'str': 'strings', 'path': 'paths', 'int': 'whole numbers', 'float': 'numbers', 'bool': 'booleans',
    'list': 'lists', 'dict': 'mappings (key: value)', 'raw': 'values',
}


def _is_number(value, pattern):
    if isinstance(value, bool):
        return False
    if pattern is _INT and isinstance(value, integer_types):
        return True
    if pattern is _FLOAT and isinstance(value, integer_types + (float,)):
        return True
    return isinstance(value, string_types) and bool(pattern.match(value.strip()))


def type_ok(value, kind):
    """Whether `value` is of the spec type `kind`, without Ansible's lenient conversions."""
    if kind in (None, 'raw'):
        return True
    if kind in ('str', 'path'):
        # YAML reads 0.1.0 as a string but 17 or 3.5 as numbers: fine where a string is asked
        return isinstance(value, string_types) or (isinstance(value, integer_types + (float,))
                                                   and not isinstance(value, bool))
    if kind == 'int':
        return _is_number(value, _INT)
    if kind == 'float':
        return _is_number(value, _FLOAT)
    if kind == 'bool':
        return isinstance(value, bool) or (isinstance(value, string_types) and value.lower() in TRUE_STRINGS + FALSE_STRINGS)
    if kind == 'list':
        return isinstance(value, (list, tuple))
    if kind == 'dict':
        return isinstance(value, dict)
    raise ValueError('unknown type %r in an argument spec' % kind)


def as_number(value):
    return float(value) if not isinstance(value, integer_types + (float,)) else value


def shown(value):
    if isinstance(value, string_types):
        return '"%s"' % value if (value == '' or value != value.strip() or ' ' in value) else value
    return repr(value) if not isinstance(value, (list, dict)) else str(value)


def check_value(name, value, option):
    """The errors of one setting's value against its spec `option` (a list of strings)."""
    if value is None:
        return ['%s: must be set' % name] if option.get('required') is True else []
    secret = bool(option.get('no_log'))
    said = name + ':' if secret else '%s: %s' % (name, shown(value))
    type_error = _type_error(said, value, option)
    if type_error:
        return [type_error]
    values = list(value) if option.get('type') == 'list' else [value]
    return [error for error in (_choices_error(name, values, option, secret), _pattern_error(name, values, option, secret),
                                _range_error(said, value, option)) if error]


def _type_error(said, value, option):
    kind = option.get('type', 'str')
    elements = option.get('elements')
    if not type_ok(value, kind):
        return '%s must be %s' % (said, TYPE_WORDS.get(kind, kind)) + (
            ' of ' + _elements_word(option) if kind == 'list' and elements else '')
    wrong = [item for item in value if not type_ok(item, elements)] if kind == 'list' and elements else []
    if wrong:
        return '%s must be a list of %s: %s %s not' % (said, _elements_word(option), ', '.join(shown(w) for w in wrong),
                                                       'is' if len(wrong) == 1 else 'are')
    return None


def _choices_error(name, values, option, secret):
    choices = option.get('choices')
    if choices is None:
        return None
    outside = [item for item in values if str(item) not in [str(choice) for choice in choices]]
    if not outside:
        return None
    return '%s: %s %s not one of %s' % (name, 'a value' if secret else ', '.join(shown(item) for item in outside),
                                        'is' if len(outside) == 1 else 'are', ', '.join(str(c) for c in choices))


def _pattern_error(name, values, option, secret):
    pattern = option.get('pattern')
    if pattern is None:
        return None
    wrong = [item for item in values if isinstance(item, string_types + integer_types + (float,))
             and not isinstance(item, bool) and not re.search(pattern, str(item))]
    if not wrong:
        return None
    why = option.get('pattern_why') or 'must match %s' % pattern
    return '%s: %s %s' % (name, 'the value' if secret else ', '.join(shown(item) for item in wrong), why)


def _range_error(said, value, option):
    low, high = option.get('min'), option.get('max')
    if option.get('type') not in ('int', 'float') or (low is None and high is None):
        return None
    number = as_number(value)
    if (low is not None and number < low) or (high is not None and number > high):
        return '%s must be between %s and %s' % (said, '-inf' if low is None else low, 'inf' if high is None else high)
    return None


def _elements_word(option):
    return ELEMENT_WORDS.get(option.get('elements'), option.get('elements'))


def check_file(name, path, kind, read):
    """The error of a file setting (path on the controller), or None. `read(path)` returns the
    file's bytes or raises OSError."""
    try:
        content = read(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return '%s: %s does not exist on the controller' % (name, path)
        return '%s: %s cannot be read (%s)' % (name, path, exc.strerror or exc)
    if kind == 'readable':
        return None
    if kind == 'pem_certificate':
        if load_certificate(content) is None:
            return '%s: %s is not a PEM certificate (-----BEGIN CERTIFICATE-----)' % (name, path)
        return None
    if kind == 'private_key':
        if load_private_key(content) is None:
            return '%s: %s is not a PEM private key (unencrypted)' % (name, path)
        return None
    raise ValueError('unknown file kind %r in an argument spec' % kind)


def load_certificate(content):
    from cryptography import x509
    try:
        return x509.load_pem_x509_certificate(content)
    except ValueError:
        return None


def load_private_key(content):
    from cryptography.hazmat.primitives import serialization
    try:
        return serialization.load_pem_private_key(content, password=None)
    except (ValueError, TypeError):
        return None


def key_matches_certificate(key_content, certificate_content):
    from cryptography.hazmat.primitives import serialization
    key, certificate = load_private_key(key_content), load_certificate(certificate_content)
    if key is None or certificate is None:
        return None
    form = dict(encoding=serialization.Encoding.DER, format=serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(**form) == certificate.public_key().public_bytes(**form)
