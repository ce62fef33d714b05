# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH public keys as pgBackRest checks them (the backup repository reached over SFTP)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib


def host_key_fingerprint(public_key_line):
    """The SHA-256 fingerprint of an OpenSSH public key line ("<type> <base64 blob>
    [comment]") as lower-case hex: what pgBackRest compares with
    repo-sftp-host-fingerprint (repo-sftp-host-key-hash-type=sha256), the digest of the
    key's blob as the server sends it."""
    fields = str(public_key_line).split()
    if len(fields) < 2 or not fields[0].startswith(('ssh-', 'ecdsa-')):
        raise ValueError('not an OpenSSH public key line: %r' % str(public_key_line)[:60])
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('not an OpenSSH public key line (its key is not base64): %r' % fields[1][:40])
    return hashlib.sha256(blob).hexdigest()
