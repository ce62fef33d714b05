# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing Debian packages only when some are missing, on package lists that can be trusted.

ansible.builtin.apt's cache_valid_time takes the age of the lists from the mtime of
/var/lib/apt/lists when there is no update-success-stamp (Debian writes none): a host
whose lists were emptied a moment ago (minimal and container-made images do that)
looks fresh, nothing is updated, and "No package matching" follows. Here the lists are
refreshed whenever something must be installed and they cannot be trusted: none there,
a wanted package without a candidate, apt sources newer than the last update, or the
last update older than cache_valid_time (unknown counts as old). A host that has every
wanted package is never updated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re
import time

LISTS_DIR = '/var/lib/apt/lists'
# Written after every successful update (the file ansible.builtin.apt reads too).
UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp'
SOURCES = ['/etc/apt/sources.list', '/etc/apt/sources.list.d']
POLICY_RC_D = '/usr/sbin/policy-rc.d'

PACKAGE_NAME = re.compile(r'^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?$')
VERSION_LINE = re.compile(r'^\s+(?:\*\*\* )?(\S+) -?\d+$')


class AptError(Exception):
    """A package step failed; the message says which and why."""


def parse_wanted(entries):
    """`name` or `name=version` (the version may hold * wildcards) -> [(entry, name, version or None)].
    Raises ValueError naming every entry that is no Debian package name."""
    wanted, bad = [], []
    for entry in entries:
        name, _, version = str(entry).strip().partition('=')
        if not PACKAGE_NAME.match(name) or ('=' in str(entry) and not version):
            bad.append(str(entry))
        wanted.append((str(entry), name, version or None))
    if bad:
        raise ValueError('not Debian package names (name or name=version): %s' % ', '.join(bad))
    return wanted


def parse_installed(dpkg_query_output):
    """Lines `name<TAB>status<TAB>version` of dpkg-query -> {name: version} of the installed ones."""
    installed = {}
    for line in dpkg_query_output.splitlines():
        fields = line.split('\t')
        if len(fields) == 3 and fields[1] == 'installed':
            installed[fields[0]] = fields[2]
    return installed


def missing(wanted, installed):
    """The entries of `wanted` not installed (or not at the wanted version)."""
    return [(entry, name, version) for entry, name, version in wanted
            if name not in installed or (version and not fnmatch.fnmatchcase(installed[name], version))]


def parse_policy(apt_cache_policy_output):
    """apt-cache policy output -> {name: {'candidate': version or None, 'versions': [...]}}.
    A package apt does not know is absent from it."""
    packages, current, in_table = {}, None, False
    for line in apt_cache_policy_output.splitlines():
        if line and not line[0].isspace() and line.endswith(':'):
            current, in_table = line[:-1].split(':')[0], False
            packages[current] = {'candidate': None, 'versions': []}
        elif current is None:
            continue
        elif line.strip().startswith('Candidate:'):
            candidate = line.split(':', 1)[1].strip()
            packages[current]['candidate'] = None if candidate == '(none)' else candidate
        elif line.strip() == 'Version table:':
            in_table = True
        elif in_table and VERSION_LINE.match(line):
            packages[current]['versions'].append(VERSION_LINE.match(line).group(1))
    return packages


def unavailable(wanted, policy):
    """The entries of `wanted` that the lists cannot provide (no candidate, or not the wanted version)."""
    lacking = []
    for entry, name, version in wanted:
        known = policy.get(name)
        if not known or not known['candidate']:
            lacking.append(entry)
        elif version and not any(fnmatch.fnmatchcase(v, version) for v in known['versions']):
            lacking.append(entry)
    return lacking


def update_reason(lists_present, stamp_mtime, newest_source_mtime, now, cache_valid_time, lacking):
    """Why the package lists must be refreshed before installing, or None when they can be trusted."""
    if not lists_present:
        return 'there are no package lists (%s is empty)' % LISTS_DIR
    if lacking:
        return 'the package lists have no candidate for %s' % ', '.join(lacking)
    if stamp_mtime is None:
        return 'the time of the last update is unknown'
    if newest_source_mtime and newest_source_mtime > stamp_mtime:
        return 'the apt sources changed since the last update'
    age = now - stamp_mtime
    if age > cache_valid_time:
        return 'the last update is %d s old (cache_valid_time %d s)' % (age, cache_valid_time)
    return None


def tail(text, lines=15):
    return '\n'.join(text.strip().splitlines()[-lines:])


class AptHost(object):
    """The host's dpkg and apt, through `run(argv, environ) -> (rc, stdout, stderr)`."""

    ENVIRON = {'DEBIAN_FRONTEND': 'noninteractive', 'LC_ALL': 'C'}

    def __init__(self, run, clock=time.time):
        self.run = run
        self.clock = clock

    def installed(self, names):
        rc, out, err = self.run(['dpkg-query', '--show', '--showformat=${Package}\t${db:Status-Status}\t${Version}\n']
                                + names, self.ENVIRON)
        return parse_installed(out)  # rc 1: some name was never installed, which is an answer

    def policy(self, names, release):
        argv = ['apt-cache'] + (['-t', release] if release else []) + ['policy'] + names
        rc, out, err = self.run(argv, self.ENVIRON)
        if rc != 0:
            raise AptError('apt-cache policy failed: %s' % tail(err or out))
        return parse_policy(out)

    def lists_present(self):
        try:
            return any(name.endswith('_Packages') or '_Packages.' in name for name in os.listdir(LISTS_DIR))
        except OSError:
            return False

    @staticmethod
    def mtime(path):
        try:
            return os.stat(path).st_mtime
        except OSError:
            return None

    def newest_source_mtime(self):
        times = []
        for path in SOURCES:
            times.append(self.mtime(path))
            if os.path.isdir(path):
                times.extend(self.mtime(os.path.join(path, name)) for name in os.listdir(path))
        return max([t for t in times if t is not None] or [0])

    def why_update(self, wanted, release, cache_valid_time):
        lists_present = self.lists_present()
        lacking = unavailable(wanted, self.policy([name for _, name, _ in wanted], release)) if lists_present else []
        return update_reason(lists_present, self.mtime(UPDATE_STAMP), self.newest_source_mtime(),
                             self.clock(), cache_valid_time, lacking)

    def update(self):
        rc, out, err = self.run(['apt-get', 'update', '-q', '-o', 'DPkg::Lock::Timeout=120'], self.ENVIRON)
        if rc != 0:
            raise AptError('apt-get update failed:\n%s' % tail(err + '\n' + out))
        os.makedirs(os.path.dirname(UPDATE_STAMP), exist_ok=True)
        with open(UPDATE_STAMP, 'a'):
            os.utime(UPDATE_STAMP, None)

    def install(self, entries, release, install_recommends, policy_rc_d):
        argv = ['apt-get', 'install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120',
                '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold']
        if install_recommends is not None:
            argv += ['-o', 'APT::Install-Recommends=%s' % ('true' if install_recommends else 'false')]
        if release:
            argv += ['-t', release]
        with PolicyRcD(policy_rc_d):
            rc, out, err = self.run(argv + list(entries), self.ENVIRON)
        if rc != 0:
            raise AptError('apt-get install %s failed:\n%s' % (' '.join(entries), tail(err + '\n' + out)))


class PolicyRcD(object):
    """While installing, /usr/sbin/policy-rc.d answers `code` (101: start no service), then the
    host's own one (or none) is back."""

    def __init__(self, code):
        self.code = code
        self.saved = None

    def __enter__(self):
        if self.code is None:
            return self
        if os.path.exists(POLICY_RC_D):
            with open(POLICY_RC_D, 'rb') as handle:
                self.saved = (handle.read(), os.stat(POLICY_RC_D).st_mode)
        with open(POLICY_RC_D, 'w') as handle:
            handle.write('#!/bin/sh\nexit %d\n' % self.code)
        os.chmod(POLICY_RC_D, 0o755)
        return self

    def __exit__(self, *exc):
        if self.code is None:
            return False
        if self.saved is None:
            os.remove(POLICY_RC_D)
        else:
            with open(POLICY_RC_D, 'wb') as handle:
                handle.write(self.saved[0])
            os.chmod(POLICY_RC_D, self.saved[1] & 0o7777)
        return False


def ensure_installed(host, entries, release=None, cache_valid_time=3600, install_recommends=None,
                     policy_rc_d=None, check_mode=False):
    """Install what of `entries` is missing; returns the module's result (changed, missing,
    cache_updated, cache_update_reason). Raises ValueError on bad entries, AptError on failures."""
    wanted = parse_wanted(entries)
    todo = missing(wanted, host.installed([name for _, name, _ in wanted]))
    result = {'changed': bool(todo), 'missing': [entry for entry, _, _ in todo],
              'cache_updated': False, 'cache_update_reason': ''}
    if not todo or check_mode:
        return result
    reason = host.why_update(todo, release, cache_valid_time)
    if reason:
        host.update()
        result.update(cache_updated=True, cache_update_reason=reason)
        lacking = unavailable(todo, host.policy([name for _, name, _ in todo], release))
        if lacking:
            raise AptError('no package matching %s in the package lists, even after apt-get update '
                           '(check the apt sources of this host%s)'
                           % (', '.join(lacking), ' and release %s' % release if release else ''))
    host.install([entry for entry, _, _ in todo], release, install_recommends, policy_rc_d)
    still = missing(wanted, host.installed([name for _, name, _ in wanted]))
    if still:
        raise AptError('apt-get install ended but %s are still not installed' % ', '.join(e for e, _, _ in still))
    return result
