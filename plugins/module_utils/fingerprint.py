# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content fingerprints of services: what a service is made of, hashed.

A service's fingerprint covers its normalized definition, the image it runs and the
content of every file it reads from the host (bind-mounted settings, configs,
secrets, env files). It is stored as labels on what runs, so that a later run can
tell, without deploying, whether anything changed and what.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError, resolve_path

LABEL_PREFIX = 'org.geostack.kargo.'
HASH_LABEL = LABEL_PREFIX + 'config-hash'
# The container paths of the bind mounts a service's role applies itself, without a new
# container (the proxy reloads nginx), space-separated: their content is not an input.
RELOADED_LABEL = LABEL_PREFIX + 'reloaded-mounts'
INPUTS_LABEL = LABEL_PREFIX + 'inputs'
SHORT = 12


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_digest(path):
    """Digest of a file's content, or of every file under a directory (names and content)."""
    if os.path.isfile(path):
        digest = hashlib.sha256()
        with open(path, 'rb') as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b''):
                digest.update(chunk)
        return digest.hexdigest()
    if os.path.isdir(path):
        digest = hashlib.sha256()
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode('utf-8') + b'\0')
                digest.update(file_digest(full).encode('ascii'))
        return digest.hexdigest()
    raise ComposeError('%s does not exist' % path)


def _without_own_labels(labels):
    if isinstance(labels, list):
        return [item for item in labels if not str(item).startswith(LABEL_PREFIX)]
    return dict((key, value) for key, value in labels.items() if not key.startswith(LABEL_PREFIX))


def normalize_service(service):
    """The service definition as canonical JSON, without the labels this collection adds."""
    service = dict(service)
    if service.get('labels'):
        service['labels'] = _without_own_labels(service['labels'])
    deploy = service.get('deploy')
    if isinstance(deploy, dict) and deploy.get('labels'):
        deploy = dict(deploy)
        deploy['labels'] = _without_own_labels(deploy['labels'])
        service['deploy'] = deploy
    return json.dumps(service, sort_keys=True, separators=(',', ':'), default=str)


def _bind_mount(volume):
    """(host path, container path, read-only) of a bind mount, or (None, None, False) for a
    named volume or tmpfs."""
    if isinstance(volume, dict):
        if volume.get('type') == 'bind':
            return volume.get('source'), volume.get('target'), bool(volume.get('read_only'))
        return None, None, False
    parts = str(volume).split(':')
    if len(parts) < 2:
        return None, None, False
    source = parts[0]
    if not source.startswith(('.', '/', '~')):
        return None, None, False
    read_only = len(parts) > 2 and 'ro' in parts[2].split(',')
    return source, parts[1], read_only


def reloaded_mounts(service):
    """The container paths named by the service's RELOADED_LABEL."""
    labels = service.get('labels') or {}
    if isinstance(labels, list):
        labels = dict(str(item).partition('=')[::2] for item in labels)
    return set(str(labels.get(RELOADED_LABEL) or '').split())


def reloaded_sources(model, service_name, project_dir):
    """The host paths of the service's bind mounts named by its RELOADED_LABEL."""
    service = model['services'][service_name]
    reloaded = reloaded_mounts(service)
    sources = []
    for volume in service.get('volumes') or []:
        source, target, _read_only = _bind_mount(volume)
        if source is not None and target in reloaded:
            sources.append(resolve_path(source, project_dir))
    return sources


def referenced_files(model, service_name, project_dir, is_file=os.path.isfile, is_dir=os.path.isdir):
    """Host files whose content a service depends on, as {label: absolute path}.

    Counted: bind-mounted files, read-only bind-mounted directories (settings), the
    files of configs and secrets it uses, and its env_file(s). A writable bind-mounted
    directory is data, not settings: hashing it would roll the service on every write.
    Not counted either: the mounts its role applies by reloading it (RELOADED_LABEL).
    `is_file` and `is_dir` tell what a path is (host_files: also files not written yet).
    """
    service = model['services'][service_name]
    reloaded = reloaded_mounts(service)
    files = {}
    for volume in service.get('volumes') or []:
        source, target, read_only = _bind_mount(volume)
        if source is None or target in reloaded:
            continue
        path = resolve_path(source, project_dir)
        if is_file(path) or (is_dir(path) and read_only):
            files['volume:' + str(source)] = path
    for kind in ('configs', 'secrets'):
        declared = model.get(kind) or {}
        for item in service.get(kind) or []:
            name = item.get('source') if isinstance(item, dict) else item
            definition = declared.get(name) or {}
            if definition.get('file'):
                files['%s:%s' % (kind[:-1], name)] = resolve_path(definition['file'], project_dir)
    env_files = service.get('env_file') or []
    if not isinstance(env_files, list):
        env_files = [env_files]
    for item in env_files:
        path = item.get('path') if isinstance(item, dict) else item
        files['env_file:' + str(path)] = resolve_path(path, project_dir)
    return files


def service_inputs(model, service_name, project_dir, image_id=None, host_files=None):
    """Short digests of each input of a service: definition, image, every file (read through
    `host_files`, a host_files.HostFiles; default: the host's files as they are)."""
    inputs = {'definition': _sha256(normalize_service(model['services'][service_name]).encode('utf-8'))[:SHORT]}
    if image_id:
        inputs['image'] = image_id.split(':')[-1][:SHORT]
    is_file, is_dir, digest = ((host_files.is_file, host_files.is_dir, host_files.digest) if host_files
                               else (os.path.isfile, os.path.isdir, file_digest))
    for label, path in sorted(referenced_files(model, service_name, project_dir, is_file, is_dir).items()):
        try:
            inputs[label] = digest(path)[:SHORT]
        except ComposeError:
            raise ComposeError("service '%s' uses %s, which does not exist" % (service_name, path))
    return inputs


def inputs_hash(inputs):
    return _sha256(json.dumps(inputs, sort_keys=True, separators=(',', ':')).encode('utf-8'))[:2 * SHORT]


def fingerprint_labels(inputs):
    """The labels that carry a service's fingerprint on the engine."""
    return {
        HASH_LABEL: inputs_hash(inputs),
        INPUTS_LABEL: json.dumps(inputs, sort_keys=True, separators=(',', ':')),
    }


def read_inputs_label(labels):
    try:
        return json.loads((labels or {}).get(INPUTS_LABEL) or '{}')
    except ValueError:
        return {}


def changed_inputs(before, after):
    """Names of the inputs whose digest differs, e.g. ['definition', 'volume:./app.conf']."""
    names = sorted(set(before) | set(after))
    return [name for name in names if before.get(name) != after.get(name)]
