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
    ComposeError, interpolate, merge_documents, parse_compose_text, read_env_file, resolve_path, validate_model)
from ansible_collections.geostack.kargo.plugins.module_utils.change_plan import ServiceState
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import (
    inputs_hash, referenced_files, reloaded_sources, service_inputs)
from ansible_collections.geostack.kargo.plugins.module_utils.host_files import HostFiles, PendingFiles

SOURCE_ARGS = dict(
    files=dict(type='list', elements='path', default=[]),
    definition=dict(type='dict'),
    project_src=dict(type='path'),
    # not no_log: secret files come without content or digest (render_files), and no_log would
    # mask every other file's content wherever it appears in the output
    pending=dict(type='dict', default={}),
    pending_images=dict(type='list', elements='str', default=[]),
)

# The image input of a service whose image an earlier task of the run rebuilds or pulls.
PENDING_IMAGE = 'sha256:pending-new-image'


class ComposeSources(object):
    """What the user gave (files, definition), as one merged and validated model.

    `host_files` reads the files (default: the host's, as they are); `pending_images` are
    the images an earlier task of the run will replace (check mode plans with both)."""

    @classmethod
    def from_params(cls, params, check_mode):
        """From a deploy module's SOURCE_ARGS; `pending` and `pending_images` count in check mode
        only (in a real run the files are written and the images built by then)."""
        if check_mode:
            return cls(params['files'], params['definition'], params['project_src'],
                       PendingFiles(params['pending']), params['pending_images'])
        return cls(params['files'], params['definition'], params['project_src'])

    def __init__(self, files, definition, project_src, host_files=None, pending_images=()):
        if not files and not definition:
            raise ComposeError('give files, definition, or both')
        if definition and not files and not project_src:
            raise ComposeError('project_src is required with an inline definition and no files '
                               '(relative paths are resolved from it)')
        self.host_files = host_files or HostFiles()
        self.pending_images = set(pending_images)
        self.project_dir = project_src or os.path.dirname(os.path.abspath(files[0]))
        if not self.host_files.is_dir(self.project_dir):
            raise ComposeError('project_src %s is not a directory' % self.project_dir)
        self.files = [resolve_path(path, self.project_dir) for path in files]
        self.definition = definition
        self.env = read_env_file(os.path.join(self.project_dir, '.env'))
        self.env.update(os.environ)
        documents = []
        for path in self.files:
            if not self.host_files.is_file(path):
                raise ComposeError("compose file %s does not exist" % path)
            documents.append(interpolate(parse_compose_text(self.host_files.read_text(path), path), self.env, path))
        if definition:
            documents.append(interpolate(definition, self.env, 'definition'))
        self.model = validate_model(merge_documents(documents))
        self._check_referenced_files()
        self._workdir = None

    def _check_referenced_files(self):
        for name in self.services:
            for label, path in sorted(referenced_files(self.model, name, self.project_dir,
                                                       self.host_files.is_file, self.host_files.is_dir).items()):
                if not self.host_files.exists(path):
                    raise ComposeError("service '%s' uses %s (%s), which does not exist" % (name, path, label))

    @property
    def services(self):
        return self.model['services']

    def reloaded_pending(self):
        """Check mode: {pending file: service} for the files in the mounts a service's role
        applies with a reload (fingerprint.RELOADED_LABEL): no restart, a reload."""
        pending = getattr(self.host_files, 'pending', {})
        found = {}
        for name in self.services:
            for folder in reloaded_sources(self.model, name, self.project_dir):
                folder = os.path.normpath(folder)
                found.update((path, name) for path in pending if path == folder or path.startswith(folder + os.sep))
        return found

    def unread_pending(self, reloaded=None):
        """Check mode: the pending files that are no compose file of the project, that no
        service reads and that no service reloads (a change to them restarts nothing);
        `reloaded`: reloaded_pending(), when the caller has it already."""
        pending = getattr(self.host_files, 'pending', {})
        read = set(os.path.normpath(path) for path in self.files)
        for name in self.services:
            read.update(os.path.normpath(path) for path in referenced_files(
                self.model, name, self.project_dir, self.host_files.is_file, self.host_files.is_dir).values())
        reloaded = self.reloaded_pending() if reloaded is None else reloaded
        return sorted(path for path in pending if path not in reloaded
                      and path not in read and not any(path.startswith(folder + os.sep) for folder in read))

    def report_unread_pending(self, result, diff):
        """Names the unread pending files, and the reloaded ones, in a deploy module's result
        and its diff."""
        reloaded = self.reloaded_pending()
        unread = self.unread_pending(reloaded)
        if unread:
            result['unread_pending'] = unread
            diff['after']['unread_pending'] = ['%s: no service reads it, nothing restarts' % path for path in unread]
        if reloaded:
            result['reloaded_pending'] = sorted(reloaded)
            diff['after']['reloaded_pending'] = ['%s: %s applies it with a reload, no restart' % (path, reloaded[path])
                                                 for path in sorted(reloaded)]

    def desired_states(self, image_id_of, replicas_of):
        """Each service as wanted: its fingerprint inputs and replicas (image IDs asked of the engine)."""
        states = {}
        for name, service in self.services.items():
            image_id = None
            if service.get('image'):
                image_id = PENDING_IMAGE if service['image'] in self.pending_images else image_id_of(service['image'])
            inputs = service_inputs(self.model, name, self.project_dir, image_id, self.host_files)
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
