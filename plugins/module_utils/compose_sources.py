# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compose input both deploy modules share: files and/or an inline definition,
read, merged and validated at once, plus the generated overlay files they add."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

import yaml

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import (
    ComposeError, interpolate, load_compose_file, merge_documents, read_env_file, resolve_path, validate_model)
from ansible_collections.geostack.kargo.plugins.module_utils.change_plan import ServiceState
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import (
    inputs_hash, referenced_files, service_inputs)

SOURCE_ARGS = dict(
    files=dict(type='list', elements='path', default=[]),
    definition=dict(type='dict'),
    project_src=dict(type='path'),
)


class ComposeSources(object):
    """What the user gave (files, definition), as one merged and validated model."""

    def __init__(self, files, definition, project_src):
        if not files and not definition:
            raise ComposeError('give files, definition, or both')
        if definition and not files and not project_src:
            raise ComposeError('project_src is required with an inline definition and no files '
                               '(relative paths are resolved from it)')
        self.project_dir = project_src or os.path.dirname(os.path.abspath(files[0]))
        if not os.path.isdir(self.project_dir):
            raise ComposeError('project_src %s is not a directory' % self.project_dir)
        self.files = [resolve_path(path, self.project_dir) for path in files]
        self.definition = definition
        self.env = read_env_file(os.path.join(self.project_dir, '.env'))
        self.env.update(os.environ)
        documents = []
        for path in self.files:
            documents.append(interpolate(load_compose_file(path), self.env, path))
        if definition:
            documents.append(interpolate(definition, self.env, 'definition'))
        self.model = validate_model(merge_documents(documents))
        self._check_referenced_files()
        self._workdir = None

    def _check_referenced_files(self):
        for name in self.services:
            for label, path in sorted(referenced_files(self.model, name, self.project_dir).items()):
                if not os.path.exists(path):
                    raise ComposeError("service '%s' uses %s (%s), which does not exist" % (name, path, label))

    @property
    def services(self):
        return self.model['services']

    def desired_states(self, image_id_of, replicas_of):
        """Each service as wanted: its fingerprint inputs and replicas (image IDs asked of the engine)."""
        states = {}
        for name, service in self.services.items():
            image_id = image_id_of(service['image']) if service.get('image') else None
            inputs = service_inputs(self.model, name, self.project_dir, image_id)
            states[name] = ServiceState(inputs_hash(inputs), inputs, replicas_of(service))
        return states

    def _write(self, name, document):
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix='kargo-')
        path = os.path.join(self._workdir, name)
        with open(path, 'w') as handle:
            yaml.safe_dump(document, handle, default_flow_style=False, sort_keys=True)
        return path

    def file_args(self, flag, overlay=None):
        """CLI arguments naming every file in order (user files, definition, overlay),
        and the text to send on standard input, if any.

        Without user files the definition goes through standard input ('-'): the CLI
        then resolves its relative paths from the working directory, project_src.
        """
        args, stdin = [], None
        for path in self.files:
            args.extend([flag, path])
        if self.definition:
            if self.files:
                args.extend([flag, self._write('definition.yml', self.definition)])
            else:
                args.extend([flag, '-'])
                stdin = yaml.safe_dump(self.definition, default_flow_style=False)
        if overlay:
            args.extend([flag, self._write('kargo-overlay.yml', overlay)])
        return args, stdin

    def cleanup(self):
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
