# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""geostack.kargo.validate_settings: every setting of the given roles checked against the
roles' meta/argument_specs.yml (module_utils/settings_spec.py says how), on the controller,
before anything is touched. Every bad setting is reported at once, one line each, naming
the setting the user wrote: a setting whose default is made from others (for example
qgis_server_service_url from kargo_hostname) is not reported when one of those failed,
and names them when it fails alone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import jinja2
import jinja2.meta

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 renders every string
    def trust_as_template(value):
        return value

from ansible_collections.geostack.kargo.plugins.module_utils.settings_spec import (
    check_file, check_value, key_matches_certificate)

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'roles')


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((key, _trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def read_bytes(path):
    """A controller file's bytes; ~ is the controller user's home, as the roles' copy tasks take it."""
    with open(os.path.expanduser(path), 'rb') as handle:
        return handle.read()


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('roles',))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        roles = self._task.args.get('roles')
        if not isinstance(roles, list) or not roles:
            return dict(result, failed=True, msg='roles must be a list of role names of geostack.kargo')
        try:
            options, defaults = self._load(roles)
        except (AnsibleError, OSError) as exc:
            return dict(result, failed=True, msg=to_text(exc))

        variables = dict(defaults)
        variables.update(task_vars)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        # set by the user: in the task's variables, and not as the role's default (run inside a
        # role, its defaults are among them)
        given = set(name for name in options if name in task_vars
                    and not (name in defaults and task_vars[name] == defaults[name]))
        errors, checked = {}, 0
        for name in sorted(options):
            if name not in variables:
                continue
            raw = variables[name]
            try:
                value = templar.template(raw)
            except AnsibleError:
                continue  # made from what only exists later in the run (facts, other hosts)
            checked += 1
            found = check_value(name, value, options[name]) + self._file_errors(name, value, options, templar, variables)
            if found:
                errors[name] = found

        lines = []
        for name in sorted(errors):
            sources = self._made_from(name, variables.get(name), options) if name not in given else []
            if any(source in errors for source in sources):
                continue  # the setting it is made from is reported
            suffix = ' (made from %s)' % ', '.join(sources) if sources else ''
            lines.extend(error + suffix for error in errors[name])
        result.update(checked=checked, errors=lines, changed=False)
        if lines:
            result.update(failed=True, msg='; '.join(lines))
        else:
            result['msg'] = '%d settings of %s checked against their argument specs' % (checked, ', '.join(roles))
        return result

    def _load(self, roles):
        """{setting: its spec option} of the roles' `main` entry points, and their defaults (raw)."""
        options, defaults = {}, {}
        for role in roles:
            spec_file = os.path.join(ROLES_DIR, str(role), 'meta', 'argument_specs.yml')
            if not os.path.isfile(spec_file):
                raise AnsibleError('roles: %s is no role of geostack.kargo with an argument spec' % role)
            spec = self._loader.load_from_file(spec_file) or {}
            options.update(((spec.get('argument_specs') or {}).get('main') or {}).get('options') or {})
            # defaults, and the role's own vars they may be made from; the collection's own
            # files: their templates are rendered, as in the role
            for kind in ('vars', 'defaults'):
                path = os.path.join(ROLES_DIR, str(role), kind, 'main.yml')
                if os.path.isfile(path):
                    defaults.update(_trusted(self._loader.load_from_file(path) or {}))
        return options, defaults

    @staticmethod
    def _file_errors(name, value, options, templar, variables):
        kind = options[name].get('file')
        if not kind or not value:
            return []
        error = check_file(name, str(value), kind, read_bytes)
        if error:
            return [error]
        certificate_setting = options[name].get('key_of')
        if certificate_setting:
            certificate = templar.template(variables.get(certificate_setting))
            if certificate:
                try:
                    matches = key_matches_certificate(read_bytes(str(value)), read_bytes(str(certificate)))
                except OSError:
                    matches = None  # reported on the certificate's own setting
                if matches is False:
                    return ['%s: %s does not match the certificate of %s (%s)' % (name, value, certificate_setting, certificate)]
        return []

    @staticmethod
    def _made_from(name, raw, options):
        """The settings a default made from templates (in a string, list or mapping) refers to."""
        referred = set()
        for text in _strings(raw):
            if '{{' not in text and '{%' not in text:
                continue
            try:
                referred |= jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(text))
            except jinja2.TemplateSyntaxError:
                continue
        return sorted(setting for setting in referred if setting in options and setting != name)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
