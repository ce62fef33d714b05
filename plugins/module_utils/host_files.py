# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files a deploy reads (compose files, and the settings files its services use), as
they are on the host, or as they will be once an earlier task of the same run has written
them.

In check mode geostack.kargo.render_files writes nothing: a deploy module planning from the
files on disk would see the old settings and report "unchanged" where the real run
recreates. PendingFiles overlays what that task would write, so the plan is the real one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError
from ansible_collections.geostack.kargo.plugins.module_utils.fingerprint import file_digest

# The digest of a pending file whose content was not given (a secret): it differs from any
# real digest, so the services that read it are planned as changed.
UNKNOWN_CONTENT = 'content-not-given-changed'


class HostFiles(object):
    """The files on the host, as they are."""

    def is_file(self, path):
        return os.path.isfile(path)

    def is_dir(self, path):
        return os.path.isdir(path)

    def exists(self, path):
        return os.path.exists(path)

    def read_text(self, path):
        with open(path, 'r') as handle:
            return handle.read()

    def digest(self, path):
        return file_digest(path)


class PendingFiles(HostFiles):
    """The host's files once `pending` ({absolute path: {'content': text, 'sha256': hex}}, either
    key optional) are written over them."""

    def __init__(self, pending):
        self.pending = dict((os.path.normpath(path), entry or {}) for path, entry in (pending or {}).items())

    def _under(self, folder):
        prefix = os.path.normpath(folder) + os.sep
        return [path for path in self.pending if path.startswith(prefix)]

    def is_file(self, path):
        return os.path.normpath(path) in self.pending or super(PendingFiles, self).is_file(path)

    def is_dir(self, path):
        return super(PendingFiles, self).is_dir(path) or bool(self._under(path))

    def exists(self, path):
        return self.is_file(path) or self.is_dir(path) or super(PendingFiles, self).exists(path)

    def read_text(self, path):
        entry = self.pending.get(os.path.normpath(path))
        if entry is None:
            return super(PendingFiles, self).read_text(path)
        if entry.get('content') is None:
            raise ComposeError('%s is pending without its content: it cannot be read' % path)
        return entry['content']

    def digest(self, path):
        path = os.path.normpath(path)
        entry = self.pending.get(path)
        if entry is not None:
            if entry.get('sha256'):
                return entry['sha256']
            if entry.get('content') is not None:
                return hashlib.sha256(entry['content'].encode('utf-8')).hexdigest()
            return UNKNOWN_CONTENT
        if not self._under(path):
            return file_digest(path)
        return self._folder_digest(path)

    def _folder_digest(self, folder):
        """file_digest of a folder, with the pending files in it: the same names and order
        (os.walk, sorted: a folder's files before its subfolders) and the same digests."""
        names = set(os.path.relpath(path, folder) for path in self._under(folder))
        if os.path.isdir(folder):
            for root, dirs, files in os.walk(folder):
                names.update(os.path.relpath(os.path.join(root, name), folder) for name in files)

        def walk_order(name):
            parts = name.split(os.sep)
            return [(1, part) for part in parts[:-1]] + [(0, parts[-1])]

        digest = hashlib.sha256()
        for name in sorted(names, key=walk_order):
            digest.update(name.encode('utf-8') + b'\0')
            digest.update(self.digest(os.path.join(folder, name)).encode('ascii'))
        return digest.hexdigest()
