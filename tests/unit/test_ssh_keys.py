"""The host key fingerprint pgBackRest checks (module_utils/ssh_keys.py)."""
import base64
import hashlib

import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.ssh_keys import host_key_fingerprint

BLOB = b'\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20' + bytes(range(32))
LINE = 'ssh-ed25519 %s geostack.kargo host key' % base64.b64encode(BLOB).decode()


def test_the_fingerprint_is_the_sha256_of_the_key_blob_in_hex():
    # what `awk '{print $2}' key.pub | base64 -d | sha256sum` prints, as pgBackRest's help says
    assert host_key_fingerprint(LINE) == hashlib.sha256(BLOB).hexdigest()
    assert host_key_fingerprint(LINE.rsplit(' ', 3)[0] + '\n') == hashlib.sha256(BLOB).hexdigest()


def test_a_host_key_gives_the_fingerprint_pgbackrest_accepted():
    # a host key of ssh-keygen and the fingerprint pgBackRest 2.55 accepted for it (and
    # refused another with "host [...] and configured fingerprint [...] do not match")
    line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIICJaZS6XBva2EAQsdBn2FlhiZHEDFRphop9l/vu7nt7 repo'
    assert host_key_fingerprint(line) == '32c3ab9eff5d66f654cdcf154d65ca7032271b060c7faac954332e09b3912bf5'


@pytest.mark.parametrize('line', ['', 'ssh-ed25519', 'not a key', 'ssh-ed25519 !!notbase64!!'])
def test_what_is_not_a_public_key_line_is_refused(line):
    with pytest.raises(ValueError, match='not an OpenSSH public key line'):
        host_key_fingerprint(line)
