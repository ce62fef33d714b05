# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose files as data: load, interpolate, merge (base + overlays), validate.

Pure logic, no Docker: the modules use it to know, before touching an engine, what
each service will be and which files on disk it depends on. The merge follows the
Compose specification's rules closely enough to attribute every setting to the right
service; the actual deployment still hands the original files to the docker CLI.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml


class ComposeError(Exception):
    """Bad compose input, detected before anything touches an engine."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping.

    PyYAML silently keeps the last one; compose refuses it. A service defined twice
    in one file is such a clash and must not go unnoticed.
    """


def _construct_unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ComposeError(
                "key '%s' is defined twice in the same mapping (line %d and line %d)"
                % (key, seen[key] + 1, key_node.start_mark.line + 1))
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def parse_compose_text(text, source):
    """Parse one compose document; errors name the source (a file path or 'definition')."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # nosec: SafeLoader subclass
    except ComposeError as exc:
        raise ComposeError("%s: %s" % (source, exc))
    except yaml.YAMLError as exc:
        raise ComposeError("%s does not parse as YAML: %s" % (source, exc))
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ComposeError("%s must hold a mapping at its top level, not %s" % (source, type(document).__name__))
    return document


# ---------------------------------------------------------------- interpolation

_INTERPOLATION = re.compile(r'\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))')
_BRACED = re.compile(r'^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$', re.DOTALL)


def _interpolate_string(text, env, where):
    def replace(match):
        if match.group('escaped'):
            return '$'
        if match.group('named'):
            return env.get(match.group('named'), '')
        braced = _BRACED.match(match.group('braced'))
        if not braced:
            raise ComposeError("invalid interpolation '%s' in %s" % (match.group(0), where))
        name, operator, argument = braced.group('name', 'op', 'arg')
        value = env.get(name)
        unset_or_empty = value is None or (operator or '').startswith(':') and value == ''
        if operator in (':-', '-'):
            return argument if unset_or_empty else value
        if operator in (':?', '?'):
            if unset_or_empty:
                raise ComposeError("required variable %s is missing in %s: %s" % (name, where, argument))
            return value
        if operator in (':+', '+'):
            return '' if unset_or_empty else argument
        return value or ''
    return _INTERPOLATION.sub(replace, text)


def interpolate(value, env, where='compose file'):
    """Replace ${VAR}, ${VAR:-default}, ${VAR:?error}, $VAR and $$ as compose does."""
    if isinstance(value, str):
        return _interpolate_string(value, env, where)
    if isinstance(value, dict):
        return dict((key, interpolate(item, env, where)) for key, item in value.items())
    if isinstance(value, list):
        return [interpolate(item, env, where) for item in value]
    return value


def read_env_file(path):
    """KEY=VALUE lines of a .env file (comments and blank lines ignored)."""
    env = {}
    if not os.path.isfile(path):
        return env
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith('#') or '=' not in line:
                continue
            key, value = line.split('=', 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]
            env[key.strip()] = value
    return env


# ---------------------------------------------------------------- merging

# Lists compose treats as mappings (KEY=VALUE items): merged key by key.
_MAPPING_LISTS = frozenset(['environment', 'labels', 'annotations', 'sysctls', 'args', 'extra_hosts'])
# Values an overlay replaces whole instead of merging.
_REPLACED = frozenset(['command', 'entrypoint', 'test'])


def _list_to_mapping(items, separator='='):
    mapping = {}
    for item in items:
        item = str(item)
        if separator in item:
            key, value = item.split(separator, 1)
        else:
            key, value = item, None
        mapping[key] = value
    return mapping


def _volume_target(item):
    if isinstance(item, dict):
        return item.get('target')
    parts = str(item).split(':')
    return parts[1] if len(parts) > 1 else parts[0]


def _mount_key(item):
    if isinstance(item, dict):
        return item.get('target') or item.get('source')
    return str(item).split(':')[0]


def _port_key(item):
    if isinstance(item, dict):
        return (str(item.get('published', '')), str(item.get('target')), item.get('protocol', 'tcp'))
    return str(item)


_KEYED_LISTS = {
    'volumes': _volume_target,
    'secrets': _mount_key,
    'configs': _mount_key,
    'ports': _port_key,
}


def _merge_keyed(base, overlay, key_of):
    merged = list(base)
    positions = dict((key_of(item), index) for index, item in enumerate(merged))
    for item in overlay:
        key = key_of(item)
        if key in positions:
            merged[positions[key]] = item
        else:
            positions[key] = len(merged)
            merged.append(item)
    return merged


def _merge_value(key, base, overlay):
    if key in _MAPPING_LISTS:
        if isinstance(base, list):
            base = _list_to_mapping(base, ':' if key == 'extra_hosts' else '=')
        if isinstance(overlay, list):
            overlay = _list_to_mapping(overlay, ':' if key == 'extra_hosts' else '=')
    if key == 'networks':
        if isinstance(base, list):
            base = dict((name, None) for name in base)
        if isinstance(overlay, list):
            overlay = dict((name, None) for name in overlay)
    if key in _REPLACED:
        return overlay
    if isinstance(base, dict) and isinstance(overlay, dict):
        return merge_mappings(base, overlay)
    if isinstance(base, list) and isinstance(overlay, list):
        if key in _KEYED_LISTS:
            return _merge_keyed(base, overlay, _KEYED_LISTS[key])
        return base + [item for item in overlay if item not in base]
    return overlay


def merge_mappings(base, overlay):
    """Merge one compose mapping over another, following the compose merge rules.

    Mappings merge key by key; command, entrypoint and healthcheck test are replaced;
    environment, labels and similar lists merge as KEY=VALUE mappings; volumes, ports,
    configs and secrets merge by their target; other lists append what is new.
    """
    merged = dict(base)
    for key, value in overlay.items():
        if key in merged and merged[key] is not None and value is not None:
            merged[key] = _merge_value(key, merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_documents(documents):
    """Merge compose documents in order, as `docker compose -f a -f b` does."""
    model = {}
    for document in documents:
        model = merge_mappings(model, document)
    return model


# ---------------------------------------------------------------- validation

def validate_model(model, source='compose definition'):
    """Refuse what compose would refuse, with the name of what is wrong."""
    services = model.get('services')
    if not services:
        raise ComposeError('%s defines no services' % source)
    if not isinstance(services, dict):
        raise ComposeError('%s: services must be a mapping of service names' % source)
    container_names = {}
    for name, service in services.items():
        if not re.match(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$', str(name)):
            raise ComposeError("%s: service name '%s' is not valid (letters, digits, '_', '.', '-')" % (source, name))
        if not isinstance(service, dict):
            raise ComposeError("%s: service '%s' must be a mapping" % (source, name))
        if not service.get('image') and not service.get('build'):
            raise ComposeError("%s: service '%s' has neither image nor build" % (source, name))
        container_name = service.get('container_name')
        if container_name:
            if container_name in container_names:
                raise ComposeError("%s: services '%s' and '%s' both use container_name '%s'"
                                   % (source, container_names[container_name], name, container_name))
            container_names[container_name] = name
    for kind in ('configs', 'secrets'):
        declared = model.get(kind) or {}
        for name, service in services.items():
            for item in service.get(kind) or []:
                reference = item.get('source') if isinstance(item, dict) else item
                if reference not in declared:
                    raise ComposeError("%s: service '%s' uses %s '%s', which is not declared at the top level"
                                       % (source, name, kind[:-1], reference))
    return model


def resolve_path(path, project_dir):
    path = os.path.expanduser(str(path))
    if not os.path.isabs(path):
        path = os.path.join(project_dir, path)
    return os.path.normpath(path)
