# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work behind geostack.kargo.render_files: a service's folder made to hold exactly
the given files, with only what differs written (atomically) or changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import os
import pwd
import stat
import tempfile

CREATED, UPDATED, ATTRIBUTES, UNCHANGED, REMOVED = 'created', 'updated', 'attributes', 'unchanged', 'removed'


class FilesError(Exception):
    """Input that cannot be applied; the message names the file."""


def parse_mode(value, what):
    """An octal mode: '0644', '644' or an int (already the value). None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and value and all(c in '01234567' for c in value):
        mode = int(value, 8)
    else:
        raise FilesError("%s: mode %r is not an octal mode like '0644'" % (what, value))
    if mode > 0o7777:
        raise FilesError("%s: mode %r is not an octal mode like '0644'" % (what, value))
    return mode


def parse_id(value, lookup, what, kind):
    """A numeric id or a user/group name, as an id. None stays None."""
    if value is None or value == '':
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return lookup(text)
    except KeyError:
        raise FilesError('%s: %s %s does not exist on this host' % (what, kind, text))


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


def gid_of(name):
    return grp.getgrnam(name).gr_gid


class WantedFile(object):
    """One file as it must be: where, what (bytes), mode, owner, group; secret ones are never shown."""

    def __init__(self, name, path, content, mode=None, uid=None, gid=None, secret=False):
        self.name = name
        self.path = path
        self.content = content
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.secret = secret

    @property
    def sha256(self):
        return hashlib.sha256(self.content).hexdigest()


def resolve_path(dest, name, what):
    """`name` under `dest` (relative names only: a file may not leave its service folder)."""
    if not name or os.path.isabs(name):
        raise FilesError('%s: %r must be a path relative to dest' % (what, name))
    path = os.path.normpath(os.path.join(dest, name))
    if os.path.relpath(path, dest).startswith(os.pardir):
        raise FilesError('%s: %r leaves dest %s' % (what, name, dest))
    return path


def wanted_files(dest, entries, lookup_uid=uid_of, lookup_gid=gid_of):
    """The module's `files` entries as WantedFile objects, checked before anything is touched."""
    files, seen = [], set()
    for entry in entries:
        name = entry.get('path')
        what = 'files[%s]' % name
        path = resolve_path(dest, name, what)
        if path in seen:
            raise FilesError('%s: given twice' % what)
        seen.add(path)
        if entry.get('content') is None:
            raise FilesError('%s: no content' % what)
        files.append(WantedFile(
            name, path, entry['content'].encode('utf-8'),
            mode=parse_mode(entry.get('mode'), what),
            uid=parse_id(entry.get('owner'), lookup_uid, what, 'user'),
            gid=parse_id(entry.get('group'), lookup_gid, what, 'group'),
            secret=bool(entry.get('secret'))))
    return files


def read_bytes(path):
    """The file's content, or None when there is no file."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if os.path.isdir(path):
            raise FilesError('%s is a folder, not a file' % path)
        if not os.path.lexists(path):
            return None
        raise FilesError('cannot read %s: %s' % (path, exc))


def attributes_differ(wanted, info):
    return ((wanted.mode is not None and stat.S_IMODE(info.st_mode) != wanted.mode)
            or (wanted.uid is not None and info.st_uid != wanted.uid)
            or (wanted.gid is not None and info.st_gid != wanted.gid))


def file_action(wanted, current):
    """What a file needs: CREATED, UPDATED (content), ATTRIBUTES (mode/owner only) or UNCHANGED."""
    if current is None:
        return CREATED
    if current != wanted.content:
        return UPDATED
    if attributes_differ(wanted, os.lstat(wanted.path)):
        return ATTRIBUTES
    return UNCHANGED


def set_attributes(path, mode, uid, gid):
    if uid is not None or gid is not None:
        os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    if mode is not None:
        os.chmod(path, mode)


def write_atomically(wanted):
    """Write into a private temporary file next to the target, give it its owner and mode, then
    rename it over the target: readers see the old or the new file, never a part, and a secret
    is never readable by anyone else, even for a moment."""
    folder = os.path.dirname(wanted.path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(wanted.path))
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(wanted.content)
            out.flush()
            os.fsync(out.fileno())
        set_attributes(temporary, 0o644 if wanted.mode is None else wanted.mode, wanted.uid, wanted.gid)
        os.rename(temporary, wanted.path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


def ensure_folder(path, mode, check_mode):
    """Create the folder (and missing parents) with `mode`, or give it that mode; True when changed."""
    if os.path.isdir(path):
        if stat.S_IMODE(os.stat(path).st_mode) == mode:
            return False
        if not check_mode:
            os.chmod(path, mode)
        return True
    if os.path.lexists(path):
        raise FilesError('%s exists and is not a folder' % path)
    if not check_mode:
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            ensure_folder(parent, mode, check_mode)
        os.mkdir(path)
        os.chmod(path, mode)
    return True


def apply(dest, folders, files, absent, folder_mode=0o755, check_mode=False, keep_before=False):
    """Make `dest` hold `files` (WantedFile), the `folders` exist and the `absent` names be gone.

    Returns a dict: changed, folders (created or re-moded), files (one entry per file: path,
    state, sha256 unless secret), changed_files (names), removed (names), and with `keep_before`
    the previous text of each changed file that is not secret (for a diff), as `before`.
    """
    changed_folders = [path for path in [dest] + list(folders) if ensure_folder(path, folder_mode, check_mode)]
    report, changed_names, before = [], [], {}
    for wanted in files:
        current = read_bytes(wanted.path)
        action = file_action(wanted, current)
        if action in (CREATED, UPDATED) and not check_mode:
            write_atomically(wanted)
        elif action == ATTRIBUTES and not check_mode:
            set_attributes(wanted.path, wanted.mode, wanted.uid, wanted.gid)
        entry = {'path': wanted.name, 'state': action}
        if not wanted.secret:
            entry['sha256'] = wanted.sha256
        report.append(entry)
        if action != UNCHANGED:
            changed_names.append(wanted.name)
            if keep_before and not wanted.secret and action != ATTRIBUTES:
                before[wanted.name] = text_or_none(current)
    removed = []
    for name in absent:
        path = resolve_path(dest, name, 'absent[%s]' % name)
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                raise FilesError('absent[%s]: %s is a folder; only files are removed' % (name, path))
            if not check_mode:
                os.unlink(path)
            removed.append(name)
    result = {
        'changed': bool(changed_folders or changed_names or removed),
        'folders': changed_folders,
        'files': report,
        'changed_files': changed_names,
        'removed': removed,
    }
    if keep_before:
        result['before'] = before
    return result


def text_or_none(content):
    """Old content as text for a diff: '' for a new file, None when it is not UTF-8 text."""
    if content is None:
        return ''
    try:
        return content.decode('utf-8')
    except UnicodeDecodeError:
        return None
