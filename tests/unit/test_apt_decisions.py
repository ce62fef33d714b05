"""The decisions of module apt_packages: what is missing, what the lists can give, when to update."""
import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.apt_packages import (
    missing, parse_installed, parse_policy, parse_wanted, unavailable, update_reason)

POLICY = '''curl:
  Installed: (none)
  Candidate: 8.14.1-2
  Version table:
     8.14.1-2 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
docker-compose:
  Installed: 1.29.2-3
  Candidate: 2.26.1-4
  Version table:
     2.26.1-4 990
        100 http://deb.debian.org/debian trixie/main amd64 Packages
 *** 1.29.2-3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
gone:
  Installed: (none)
  Candidate: (none)
  Version table:
'''


def test_wanted_entries_with_and_without_versions():
    assert parse_wanted(['curl', 'chrony=4.6*', 'libc6:amd64']) == [
        ('curl', 'curl', None), ('chrony=4.6*', 'chrony', '4.6*'), ('libc6:amd64', 'libc6:amd64', None)]


def test_bad_entries_are_named_together():
    with pytest.raises(ValueError) as error:
        parse_wanted(['curl', 'Bad Name', 'nginx=', ''])
    assert str(error.value) == "not Debian package names (name or name=version): Bad Name, nginx=, "


def test_installed_reads_only_installed_packages():
    output = 'curl\tinstalled\t8.14.1-2\nchrony\tconfig-files\t4.6-1\nnftables\tnot-installed\t\n'
    assert parse_installed(output) == {'curl': '8.14.1-2'}


def test_missing_counts_a_wrong_version_as_missing():
    wanted = parse_wanted(['curl', 'chrony', 'docker-compose=2.*', 'nftables=1.1.1-1'])
    installed = {'curl': '8.14.1-2', 'docker-compose': '1.29.2-3', 'nftables': '1.1.1-1'}
    assert [entry for entry, _, _ in missing(wanted, installed)] == ['chrony', 'docker-compose=2.*']


def test_policy_candidates_and_version_tables():
    policy = parse_policy(POLICY)
    assert policy['curl'] == {'candidate': '8.14.1-2', 'versions': ['8.14.1-2']}
    assert policy['docker-compose'] == {'candidate': '2.26.1-4', 'versions': ['2.26.1-4', '1.29.2-3']}
    assert policy['gone'] == {'candidate': None, 'versions': []}


def test_unavailable_names_unknown_packages_no_candidate_and_absent_versions():
    policy = parse_policy(POLICY)
    wanted = parse_wanted(['curl', 'gone', 'not-in-lists', 'docker-compose=2.26*', 'curl=7.*'])
    assert unavailable(wanted, policy) == ['gone', 'not-in-lists', 'curl=7.*']


NOW = 1_000_000.0


@pytest.mark.parametrize('lists, stamp, sources, lacking, expected', [
    (False, NOW - 10, 0, [], 'there are no package lists (/var/lib/apt/lists is empty)'),
    (True, NOW - 10, 0, ['curl'], 'the package lists have no candidate for curl'),
    (True, None, 0, [], 'the time of the last update is unknown'),
    (True, NOW - 10, NOW - 5, [], 'the apt sources changed since the last update'),
    (True, NOW - 7200, NOW - 9000, [], 'the last update is 7200 s old (cache_valid_time 3600 s)'),
    (True, NOW - 10, NOW - 9000, [], None),
], ids=['lists-emptied', 'no-candidate', 'never-updated', 'new-source', 'stale', 'fresh'])
def test_update_reason(lists, stamp, sources, lacking, expected):
    assert update_reason(lists, stamp, sources, NOW, 3600, lacking) == expected
