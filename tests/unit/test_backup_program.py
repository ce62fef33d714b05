"""The pure parts of the backup program (roles/backup/files/kargo_backup.py): names,
queries, the comparison of a restore with its manifest, the choice of a backup, the
globals made safe to replay, the checksum check. The program against a real server is
tested in tests/integration."""
import argparse
import datetime
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location('kargo_backup', os.path.join(ROOT, 'roles', 'backup', 'files', 'kargo_backup.py'))
kargo_backup = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(kargo_backup)


def test_backup_names_are_the_utc_time_and_sort_as_time():
    name = kargo_backup.utc_name(datetime.datetime(2026, 12, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    assert name == '20261202T030405Z'
    assert kargo_backup.NAME_PATTERN.match(name)
    assert sorted(['20261202T030405Z', '20261130T235959Z']) == ['20261130T235959Z', '20261202T030405Z']


def test_dump_file_names_are_safe_file_names():
    assert kargo_backup.dump_file_name('gis') == 'gis.dump'
    odd = kargo_backup.dump_file_name('../étc data')
    assert odd.startswith('db-') and odd.endswith('.dump') and '/' not in odd
    assert odd != kargo_backup.dump_file_name('../etc data')


def test_kept_and_restoring_names_fit_postgresql_identifiers():
    assert kargo_backup.kept_name('gis', '20261202T030405Z') == 'gis_before_20261202T030405Z'
    long_name = 'x' * 63
    assert len(kargo_backup.kept_name(long_name, '20261202T030405Z').encode()) == 63
    assert len(kargo_backup.restoring_name(long_name).encode()) == 63
    assert len(kargo_backup.restoring_name('é' * 40).encode()) <= 63


def test_major_version():
    assert kargo_backup.major_version(170007) == 17
    assert kargo_backup.major_version('180000') == 18


def test_table_query_counts_rows_and_srids_in_one_scan_grouped_by_srid_and_quotes_names():
    query = kargo_backup.table_query({'schema': 'my schema', 'table': 'Roads"x', 'key': ['id'], 'geometry': ['geom', 'g2']})
    assert query.count('FROM "my schema"."Roads""x"') == 1
    assert 'ST_SRID("geom") AS srid0, ST_SRID("g2") AS srid1, count(*) AS row_count' in query
    assert query.endswith('GROUP BY 1, 2) AS srids')
    assert "'g2', json_build_object('srids', array_agg(DISTINCT srid1) FILTER (WHERE srid1 IS NOT NULL))" in query
    plain = kargo_backup.table_query({'schema': 'public', 'table': 't', 'key': ['id'], 'geometry': None})
    assert plain == "SELECT json_build_object('rows', count(*), 'geometry', json_build_object()) FROM \"public\".\"t\""


def test_format_2_hashes_the_binary_copy_of_each_rows_key_and_ewkb_in_key_order():
    copy = kargo_backup.geometry_hash_copy({'schema': 'my schema', 'table': 'Roads"x', 'key': ['id', 'part']}, 'geom')
    assert copy == ('COPY (SELECT "id", "part", ST_AsEWKB("geom"::geometry) FROM ONLY "my schema"."Roads""x" '
                    'ORDER BY "id", "part") TO STDOUT (FORMAT binary)')
    # without a key: ordered by the geometries themselves, so the physical order does not count
    keyless = kargo_backup.geometry_hash_copy({'schema': 'public', 'table': 't', 'key': None}, 'g')
    assert keyless == ('COPY (SELECT ST_AsEWKB("g"::geometry) FROM ONLY "public"."t" ORDER BY ST_AsEWKB("g"::geometry)) '
                       'TO STDOUT (FORMAT binary)')
    # a partitioned table holds no rows itself: its partitions are read
    partitioned = kargo_backup.geometry_hash_copy({'schema': 'public', 'table': 't', 'key': ['id'], 'partitioned': True}, 'g')
    assert ' FROM "public"."t" ORDER BY "id")' in partitioned


def test_format_1_hashes_joined_md5s_in_key_order_as_older_backups_did():
    query = kargo_backup.geometry_hash_query_v1({'schema': 'public', 'table': 't', 'key': ['id', 'part']}, 'geom')
    assert query == ("SELECT json_build_object('hash', md5(string_agg(coalesce(md5(ST_AsEWKB(\"geom\"::geometry)), '-'), "
                     "',' ORDER BY \"id\", \"part\"))) FROM \"public\".\"t\"")
    keyless = kargo_backup.geometry_hash_query_v1({'schema': 'public', 'table': 't', 'key': None}, 'g')
    assert "ORDER BY coalesce(md5(ST_AsEWKB(\"g\"::geometry)), '-')" in keyless


def test_table_summary_sorts_srids_and_empties_an_empty_table():
    assert kargo_backup.table_summary({'rows': 3, 'geometry': {'geom': {'srids': [3857, 4326], 'hash': 'abc'}}}) == \
        {'rows': 3, 'geometry': {'geom': {'srids': [3857, 4326], 'hash': 'abc'}}}
    assert kargo_backup.table_summary({'rows': 0, 'geometry': {'geom': {'srids': None, 'hash': None}}}) == \
        {'rows': 0, 'geometry': {'geom': {'srids': [], 'hash': None}}}



class Database(object):
    """Answers describe()'s queries for one table without a primary key yet, as a database
    being restored has, and records what was asked."""

    def __init__(self):
        self.asked, self.copied = [], []

    def json_of(self, query):
        self.asked.append(query)
        if query == kargo_backup.TABLES_QUERY:
            return [{'schema': 'public', 'table': 'a', 'key': None, 'geometry': ['geom']}]
        if query == kargo_backup.EXTENSIONS_QUERY:
            return {'postgis': '3.5.2'}
        if 'md5' in query:
            return {'hash': 'md5-of-md5s'}
        return {'rows': 2, 'geometry': {'geom': {'srids': [4326]}}}

    def copy_hash(self, copy):
        self.copied.append(copy)
        return 'sha256-of-copy'


def test_a_description_keeps_each_tables_key_and_hashes_in_the_manifests_key_order():
    database = Database()
    described = kargo_backup.describe(database.json_of, database.copy_hash, keys={'"public"."a"': ['id']})
    assert described['tables'] == {'"public"."a"': {'rows': 2, 'key': ['id'],
                                                    'geometry': {'geom': {'srids': [4326], 'hash': 'sha256-of-copy'}}}}
    assert database.copied == [kargo_backup.geometry_hash_copy({'schema': 'public', 'table': 'a', 'key': ['id']}, 'geom')]
    assert kargo_backup.describe(database.json_of, database.copy_hash)['tables']['"public"."a"']['key'] is None


def test_a_format_1_manifest_is_compared_with_format_1_hashes():
    database = Database()
    described = kargo_backup.describe(database.json_of, database.copy_hash, keys={'"public"."a"': ['id']},
                                      manifest_format=1)
    assert described['tables']['"public"."a"']['geometry']['geom']['hash'] == 'md5-of-md5s'
    assert database.copied == []
    assert kargo_backup.geometry_hash_query_v1({'schema': 'public', 'table': 'a', 'key': ['id']}, 'geom') in database.asked


def test_a_manifest_of_a_newer_format_is_refused_before_anything():
    with pytest.raises(kargo_backup.Refused, match=r'^backup 20261207T050000Z has a manifest of format 3, newer than '
                                                   r'this kargo-backup reads \(2\)$'):
        kargo_backup.check_restorable(None, '20261207T050000Z', '/nowhere', {'format': 3}, {'version_num': 170007})


def test_the_keys_of_a_manifest_or_none_when_it_is_older_than_them():
    assert kargo_backup.saved_keys({'tables': {'a': {'rows': 1, 'key': ['id']}, 'b': {'rows': 0, 'key': None}}}) == \
        {'a': ['id'], 'b': None}
    assert kargo_backup.saved_keys({'tables': {'a': {'rows': 1, 'key': ['id']}, 'b': {'rows': 0}}}) is None
    assert kargo_backup.saved_keys({'tables': {}}) == {}


def test_a_section_of_a_dump_is_restored_in_jobs():
    argv = kargo_backup.restore_argv('gis_kargo_restoring', '/b/gis.dump', 'post-data')
    assert argv[:2] == ['pg_restore', '--exit-on-error'] and '--jobs' in argv
    assert argv[-3:] == ['gis_kargo_restoring', '--section=post-data', '/b/gis.dump']
    assert '--section' not in ' '.join(kargo_backup.restore_argv('gis', '/b/gis.dump', None))


def test_the_work_done_while_a_program_runs_is_kept_and_a_failed_program_fails():
    class Server(object):
        env = dict(os.environ)

    assert kargo_backup.while_running(Server(), ['sh', '-c', 'sleep 0.2'], lambda: 'described') == 'described'
    with pytest.raises(kargo_backup.Refused, match=r'sh failed \(rc 3\): no such index'):
        kargo_backup.while_running(Server(), ['sh', '-c', 'echo "no such index" >&2; exit 3'], lambda: 'described')

SAVED = {'extensions': {'plpgsql': '1.0', 'postgis': '3.5.2'},
         'tables': {'"public"."a"': {'rows': 2, 'geometry': {'geom': {'srids': [4326], 'hash': 'h1'}}},
                    '"public"."b"': {'rows': 5, 'geometry': {}}}}


def restored(**changes):
    copy = json.loads(json.dumps(SAVED))
    for key, value in changes.items():
        copy[key] = value
    return copy


def test_a_restore_equal_to_its_manifest_has_no_difference():
    assert kargo_backup.compare_databases(SAVED, restored()) == []
    # a newer server's extension versions are not a difference
    assert kargo_backup.compare_databases(SAVED, restored(extensions={'plpgsql': '1.0', 'postgis': '3.6.0'})) == []


def test_every_difference_is_named():
    changed = restored(extensions={'plpgsql': '1.0'})
    changed['tables']['"public"."a"'] = {'rows': 1, 'geometry': {'geom': {'srids': [4326], 'hash': 'other'}}}
    del changed['tables']['"public"."b"']
    changed['tables']['"public"."c"'] = {'rows': 0, 'geometry': {}}
    assert kargo_backup.compare_databases(SAVED, changed) == [
        'extensions missing: postgis',
        'table "public"."b" missing',
        'table "public"."c" not in the backup',
        'table "public"."a": 1 rows, 2 saved',
        'table "public"."a": geometries of geom differ from the saved ones',
    ]


def test_the_newest_verified_backup_is_chosen():
    backups = {'20261201T000000Z': {'verified': True}, '20261202T000000Z': {'verified': True},
               '20261203T000000Z': {'verified': False}, '20261204T000000Z': None}
    assert kargo_backup.newest_verified(backups) == '20261202T000000Z'
    assert kargo_backup.newest_verified({'20261204T000000Z': None}) is None


GLOBALS = '\n'.join([
    'SET default_transaction_read_only = off;',
    'CREATE ROLE kargo;',
    "ALTER ROLE kargo WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$old';",
    'CREATE ROLE surveyor;',
    "ALTER ROLE surveyor WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN PASSWORD 'SCRAM-SHA-256$s';",
    'CREATE ROLE "Field ""Team""";',
    'ALTER ROLE "Field ""Team""" WITH NOLOGIN;',
    'GRANT "Field ""Team""" TO surveyor WITH INHERIT TRUE GRANTED BY kargo;'])


def test_globals_keep_the_stacks_own_role_and_skip_roles_that_exist():
    script = kargo_backup.globals_for_restore(GLOBALS, 'kargo')
    assert 'CREATE ROLE kargo' not in script and 'ALTER ROLE kargo ' not in script
    assert ("DO $kargo$ BEGIN CREATE ROLE surveyor; EXCEPTION WHEN duplicate_object THEN NULL; END $kargo$;"
            in script.splitlines())
    assert "ALTER ROLE surveyor WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN PASSWORD 'SCRAM-SHA-256$s';" in script
    assert 'BEGIN CREATE ROLE "Field ""Team"""; EXCEPTION' in script
    assert 'GRANT "Field ""Team""" TO surveyor WITH INHERIT TRUE GRANTED BY kargo;' in script
    # a quoted own role is recognised too
    quoted = kargo_backup.globals_for_restore('CREATE ROLE "Admin";\nALTER ROLE "Admin" WITH LOGIN;\n', 'Admin')
    assert quoted.strip() == ''


def test_checksums_name_a_missing_truncated_or_changed_file(tmp_path):
    content = b'PGDMP' + bytes(range(256)) * 10
    (tmp_path / 'gis.dump').write_bytes(content)
    manifest = {'files': {'gis.dump': {'bytes': len(content), 'sha256': hashlib.sha256(content).hexdigest()}}}
    assert kargo_backup.checksum_problems(str(tmp_path), manifest) == []
    (tmp_path / 'gis.dump').write_bytes(content[:100])
    assert kargo_backup.checksum_problems(str(tmp_path), manifest) == [
        'gis.dump has 100 bytes, the manifest says %d (truncated or changed)' % len(content)]
    (tmp_path / 'gis.dump').write_bytes(content[:-1] + b'x')
    assert kargo_backup.checksum_problems(str(tmp_path), manifest) == [
        'the checksum of gis.dump does not match the manifest (the file changed since the backup)']
    (tmp_path / 'gis.dump').unlink()
    assert kargo_backup.checksum_problems(str(tmp_path), manifest) == ['gis.dump is missing']


def test_an_unknown_backup_name_lists_the_ones_there(tmp_path):
    (tmp_path / '20261201T000000Z').mkdir()
    (tmp_path / '20261201T000000Z' / 'manifest.json').write_text('{"verified": true, "name": "20261201T000000Z"}')
    (tmp_path / 'not-a-backup').mkdir()
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.choose_backup(str(tmp_path), '20261299T000000Z')
    assert str(refused.value) == ('kargo_restore_from: no backup named 20261299T000000Z in %s (there are: 20261201T000000Z)'
                                  % tmp_path)
    assert kargo_backup.choose_backup(str(tmp_path), '')[0] == '20261201T000000Z'


def test_nothing_verified_nothing_to_restore(tmp_path):
    (tmp_path / '20261201T000000Z.partial').mkdir()
    with pytest.raises(kargo_backup.Refused, match='no verified backup in'):
        kargo_backup.choose_backup(str(tmp_path), '')


def at(text):
    return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M').replace(tzinfo=datetime.timezone.utc)


def test_a_schedule_is_a_cron_expression():
    nightly = kargo_backup.parse_schedule('15 3 * * *')
    assert kargo_backup.next_run(nightly, at('2026-12-02 03:14')) == at('2026-12-02 03:15')
    assert kargo_backup.next_run(nightly, at('2026-12-02 03:15')) == at('2026-12-03 03:15')
    every_minute = kargo_backup.parse_schedule('* * * * *')
    assert kargo_backup.next_run(every_minute, at('2026-12-31 23:59')) == at('2027-01-01 00:00')
    # Sundays (0 or 7) at 02:30 and 14:30; 2026-12-06 is a Sunday
    sundays = kargo_backup.parse_schedule('30 2,14 * * 7')
    assert kargo_backup.next_run(sundays, at('2026-12-02 12:00')) == at('2026-12-06 02:30')
    assert kargo_backup.next_run(sundays, at('2026-12-06 03:00')) == at('2026-12-06 14:30')
    # steps and ranges
    assert kargo_backup.parse_schedule('*/20 1-3 * * *')[:2] == [{0, 20, 40}, {1, 2, 3}]
    assert kargo_backup.parse_schedule('5/30 * * * *')[0] == {5, 35}
    # day of month or day of week, as cron does: the 1st, and every Monday
    either = kargo_backup.parse_schedule('0 0 1 * 1')
    assert kargo_backup.next_run(either, at('2026-12-02 00:00')) == at('2026-12-07 00:00')
    assert kargo_backup.next_run(either, at('2026-12-28 00:00')) == at('2027-01-01 00:00')


@pytest.mark.parametrize('text, message', [
    ('15 3 * *', 'is not a cron expression of five fields'),
    ('61 3 * * *', "'61' is out of range for the minute (0-59)"),
    ('0 0 * * mon', "'mon' is not a day of week field"),
    ('0 0 31 2 *', 'no time in the next year matches it'),
])
def test_a_bad_schedule_is_named(text, message):
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.next_run(kargo_backup.parse_schedule(text), at('2026-12-02 00:00'))
    assert str(refused.value).startswith('kargo_backup_schedule: ') and message in str(refused.value)


def nightly_backups(first, days):
    start = datetime.datetime.strptime(first, '%Y-%m-%d')
    return dict(((start + datetime.timedelta(days=n, hours=3)).strftime(kargo_backup.NAME_FORMAT), True)
                for n in range(days))


def test_retention_keeps_days_weeks_and_months():
    backups = nightly_backups('2026-09-01', 92)   # 2026-09-01 .. 2026-12-01
    removed = set(kargo_backup.backups_to_remove(backups, daily=3, weekly=2, monthly=2))
    kept = sorted(set(backups) - removed)
    # the last 3 days; the newest of this week (Monday 11-30 .. 12-01) and of last week
    # (Sunday 11-29); the newest of December and of November
    assert kept == ['20261129T030000Z', '20261130T030000Z', '20261201T030000Z']
    removed = set(kargo_backup.backups_to_remove(backups, daily=1, weekly=0, monthly=3))
    assert sorted(set(backups) - removed) == ['20261031T030000Z', '20261130T030000Z', '20261201T030000Z']


def test_retention_never_removes_the_newest_verified_backup():
    backups = {'20261201T030000Z': True, '20261202T030000Z': False}
    assert kargo_backup.backups_to_remove(backups, daily=0, weekly=0, monthly=0) == []
    # an unverified backup goes once a newer verified one exists
    backups['20261203T030000Z'] = True
    assert kargo_backup.backups_to_remove(backups, daily=0, weekly=0, monthly=0) == ['20261201T030000Z', '20261202T030000Z']


def make_backup_folder(root, name, verified):
    os.makedirs(os.path.join(str(root), name))
    with open(os.path.join(str(root), name, 'manifest.json'), 'w') as handle:
        json.dump({'name': name, 'verified': verified}, handle)


def test_retention_removes_the_folders_it_chose(tmp_path):
    for name, verified in (('20261130T031500Z', True), ('20261201T031500Z', False), ('20261202T031500Z', True),
                           ('20261202T041500Z', True)):
        make_backup_folder(tmp_path, name, verified)
    (tmp_path / '20261202T051500Z.partial').mkdir()   # a backup under way: not one yet
    removed = kargo_backup.remove_old_backups(str(tmp_path), (2, 0, 0))
    assert removed == ['20261201T031500Z', '20261202T031500Z']
    assert sorted(os.listdir(str(tmp_path))) == ['20261130T031500Z', '20261202T041500Z', '20261202T051500Z.partial']


@pytest.mark.parametrize('keep, message', [
    ((-1, 4, 6), 'kargo_backup_keep_daily: -1 must be 0 or more'),
    ((7, 4, -2), 'kargo_backup_keep_monthly: -2 must be 0 or more'),
])
def test_negative_retention_counts_are_named(keep, message):
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.check_schedule('15 3 * * *', keep)
    assert str(refused.value) == message


def test_a_failed_scheduled_backup_is_in_the_status(tmp_path):
    class DownServer(object):
        def wait_until_ready(self):
            raise kargo_backup.Refused('psql failed (rc 2): could not connect to server')

    result = kargo_backup.scheduled_run(DownServer(), str(tmp_path), (7, 4, 6))
    assert result == {'failed': True, 'msg': 'psql failed (rc 2): could not connect to server'}
    status = kargo_backup.read_json(str(tmp_path / 'status.json'))
    assert status['last_failure'] == result['msg'] and status['last_scheduled_ok'] is False
    assert sorted(os.listdir(str(tmp_path))) == ['.lock', '.status.lock', 'status.json']   # no half-made backup


def test_the_status_says_the_newest_backup_the_runs_and_the_last_failure():
    backups = [{'name': '20261201T031500Z', 'verified': True, 'bytes': 3 * 1024 * 1024},
               {'name': '20261202T031500Z', 'verified': False, 'bytes': 1000}]
    status = {'last_scheduled_at': '20261202T031520Z', 'last_scheduled_ok': False, 'schedule': '15 3 * * *',
              'next_run_at': '2026-12-03T03:15:00+00:00', 'last_failure_at': '20261202T031520Z',
              'last_failure': 'psql failed (rc 2): could not connect',
              'last_restore': 'backup 20261201T031500Z', 'last_restore_finished': '2026-12-01T10:00:00+00:00'}
    assert kargo_backup.status_summary('/b', backups, status) == [
        '2 backups in /b, 3.0 MiB in all; the newest: 20261202T031500Z, NOT verified, 1000 bytes.',
        'The newest verified backup: 20261201T031500Z.',
        'Last scheduled run: 20261202T031520Z, FAILED.',
        'Schedule: "15 3 * * *" (UTC), next run at 2026-12-03T03:15:00+00:00.',
        'Last failure, at 20261202T031520Z: psql failed (rc 2): could not connect',
        'Last restore: backup 20261201T031500Z, finished 2026-12-01T10:00:00+00:00.']
    assert kargo_backup.status_summary('/b', [], {}) == ['No backup in /b yet.', 'No failure recorded.']


def utc(text):
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize('text, expected', [
    ('2026-11-24 10:15:00+00', '2026-11-24T10:15:00+00:00'),
    ('2026-11-24T10:15Z', '2026-11-24T10:15:00+00:00'),
    ('2026-11-24 10:15:00.25+0130', '2026-11-24T10:15:00.250000+01:30'),
    ('2026-11-24 11:15:00-05:00', '2026-11-24T11:15:00-05:00'),
])
def test_a_restore_time_has_its_utc_offset(text, expected):
    assert kargo_backup.parse_restore_time(text).isoformat() == expected


@pytest.mark.parametrize('text, message', [
    ('2026-11-24 10:15:00', "kargo_restore_time: '2026-11-24 10:15:00' is not a time with its UTC offset"),
    ('yesterday', "kargo_restore_time: 'yesterday' is not a time with its UTC offset"),
    ('2026-02-30 10:15:00+00', "kargo_restore_time: '2026-02-30 10:15:00+00' is not a time"),
])
def test_a_restore_time_without_offset_or_not_a_time_is_named(text, message):
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.parse_restore_time(text)
    assert str(refused.value).startswith(message)


# what `pgbackrest info --output=json` says of a stanza with a full and a differential backup
INFO = [{'name': 'kargo', 'backup': [
    {'label': '20261201-031500F', 'type': 'full', 'error': False, 'timestamp': {'start': 1796094900, 'stop': 1796094960}},
    {'label': '20261201-031500F_20261202-031500D', 'type': 'diff', 'error': False,
     'timestamp': {'start': 1796181300, 'stop': 1796181330}}]}]


def test_the_oldest_restorable_time_is_the_end_of_the_oldest_backup():
    assert kargo_backup.oldest_restorable_time(INFO).isoformat() == '2026-12-01T03:16:00+00:00'
    assert kargo_backup.oldest_restorable_time([{'name': 'kargo', 'backup': []}]) is None


@pytest.mark.parametrize('wanted, message', [
    ('2026-12-03T00:00:00+00:00', 'kargo_restore_time: 2026-12-03T00:00:00+00:00 is in the future (now: 2026-12-02T12:00:00+00:00)'),
    ('2026-11-30T00:00:00+00:00', 'kargo_restore_time: 2026-11-30T00:00:00+00:00 is before the oldest backup, which ended at '
                                  '2026-12-01T03:16:00+00:00'),
])
def test_a_restore_time_out_of_reach_is_refused(wanted, message):
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.check_restore_time(utc(wanted), kargo_backup.oldest_restorable_time(INFO), utc('2026-12-02T12:00:00+00:00'))
    assert str(refused.value).startswith(message)
    kargo_backup.check_restore_time(utc('2026-12-02T11:00:00+00:00'), kargo_backup.oldest_restorable_time(INFO),
                                    utc('2026-12-02T12:00:00+00:00'))


def test_no_pgbackrest_backup_no_point_in_time_restore():
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.check_restore_time(utc('2026-12-02T11:00:00+00:00'), None, utc('2026-12-02T12:00:00+00:00'))
    assert 'there is no pgBackRest backup to restore from yet' in str(refused.value)


def test_a_full_backup_when_none_is_recent_else_a_differential_one():
    assert kargo_backup.pitr_backup_type([{'name': 'kargo', 'backup': []}], utc('2026-12-02T12:00:00+00:00'), 7) == 'full'
    assert kargo_backup.pitr_backup_type(INFO, utc('2026-12-02T12:00:00+00:00'), 7) == 'diff'
    assert kargo_backup.pitr_backup_type(INFO, utc('2026-12-08T03:16:00+00:00'), 7) == 'full'


def test_the_status_says_how_far_back_the_database_can_go():
    status = {'last_pitr_backup': '20261202-031500F', 'pitr_oldest_time': '2026-12-02T03:15:30+00:00',
              'last_restore': 'to the time 2026-12-02T10:00:00+00:00', 'last_restore_finished': '2026-12-02T11:00:00+00:00'}
    assert ('Last restore: to the time 2026-12-02T10:00:00+00:00, finished 2026-12-02T11:00:00+00:00.'
            in kargo_backup.status_summary('/b', [], status))
    assert ('Point in time, as of the last backup: pgBackRest backup 20261202-031500F, restorable to any time since '
            '2026-12-02T03:15:30+00:00.') in kargo_backup.status_summary('/b', [], status)


def test_a_backup_without_point_in_time_clears_what_an_earlier_one_said():
    fields = kargo_backup.pitr_status({'label': '20261202-031500F', 'oldest_time': '2026-12-02T03:15:30+00:00'})
    assert fields == {'last_pitr_backup': '20261202-031500F', 'pitr_oldest_time': '2026-12-02T03:15:30+00:00'}
    cleared = kargo_backup.pitr_status(None)
    assert cleared == {'last_pitr_backup': None, 'pitr_oldest_time': None}
    assert not any(line.startswith('Point in time') for line in kargo_backup.status_summary('/b', [], cleared))


def test_timings_add_up_per_phase():
    timings = kargo_backup.Timings()
    for _ in range(2):
        with timings.phase('dump'):
            pass
    with pytest.raises(ValueError):
        with timings.phase('checks'):
            raise ValueError('a failed phase is timed too')
    assert sorted(timings.seconds) == ['checks', 'dump'] and timings.seconds['dump'] < 1


# --- file sets ---------------------------------------------------------------------------

def test_a_file_set_is_a_name_an_absolute_folder_and_a_glob():
    assert kargo_backup.parse_file_set('geoserver=/kargo/files/geoserver/') == {
        'name': 'geoserver', 'dir': '/kargo/files/geoserver', 'glob': '*'}
    assert kargo_backup.parse_file_set('proxy_tls=/tls:selfsigned.*')['glob'] == 'selfsigned.*'


@pytest.mark.parametrize('text', ['GeoServer=/x', 'geoserver=relative/dir', 'geoserver', '=/x'])
def test_a_bad_file_set_is_named(text):
    with pytest.raises(argparse.ArgumentTypeError, match='NAME=/ABSOLUTE/DIR'):
        kargo_backup.parse_file_set(text)


def make_tree(top):
    """A data folder as another service leaves it: nested folders, owners that are not
    root's, a private file, an empty folder, a relative link."""
    os.makedirs(os.path.join(top, 'workspaces', 'kargo', 'empty'))
    with open(os.path.join(top, 'global.xml'), 'w') as handle:
        handle.write('<global>Zürich</global>')
    with open(os.path.join(top, 'workspaces', 'kargo', 'store.xml'), 'w') as handle:
        handle.write('<store/>')
    os.chmod(os.path.join(top, 'workspaces', 'kargo', 'store.xml'), 0o600)
    os.symlink('../../global.xml', os.path.join(top, 'workspaces', 'kargo', 'global-link.xml'))
    for folder, names, files in os.walk(top):
        for name in names + files:
            os.lchown(os.path.join(folder, name), 1000, 1001)


def tree_of(top):
    """{relative path: (kind, uid, gid, mode, content or link)} of everything under top."""
    seen = {}
    for folder, names, files in os.walk(top):
        for name in names + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if os.path.islink(path):
                what = ('link', os.readlink(path))
            elif os.path.isdir(path):
                what = ('dir', None)
            else:
                with open(path) as handle:
                    what = ('file', handle.read())
            seen[os.path.relpath(path, top)] = what + (info.st_uid, info.st_gid, info.st_mode & 0o7777)
    return seen


root_only = pytest.mark.skipif(os.getuid() != 0, reason='owners other than our own need root')


@root_only
def test_a_file_set_comes_back_with_its_owners_modes_and_links(tmp_path):
    data, folder = str(tmp_path / 'data'), str(tmp_path / 'backup')
    os.makedirs(folder)
    make_tree(data)
    before = tree_of(data)
    saved = kargo_backup.archive_file_set(kargo_backup.parse_file_set('geoserver=' + data), folder)
    assert saved == {'file': 'files-geoserver.tar', 'dir': data, 'glob': '*', 'members': len(before)}
    # lost, and something new in its place that the restore removes
    shutil.rmtree(os.path.join(data, 'workspaces'))
    with open(os.path.join(data, 'global.xml'), 'w') as handle:
        handle.write('changed')
    with open(os.path.join(data, 'stray.txt'), 'w') as handle:
        handle.write('not in the backup')
    kargo_backup.restore_file_set(folder, saved, data)
    assert tree_of(data) == before


@root_only
def test_a_file_set_with_a_glob_saves_and_replaces_only_its_files(tmp_path):
    tls, folder = str(tmp_path / 'tls'), str(tmp_path / 'backup')
    os.makedirs(tls)
    os.makedirs(folder)
    for name, content in (('selfsigned.crt', 'old cert'), ('selfsigned.key', 'old key'), ('custom.crt', 'users')):
        with open(os.path.join(tls, name), 'w') as handle:
            handle.write(content)
    saved = kargo_backup.archive_file_set(kargo_backup.parse_file_set('proxy_tls=%s:selfsigned.*' % tls), folder)
    assert saved['members'] == 2
    for name in ('selfsigned.crt', 'selfsigned.key'):
        with open(os.path.join(tls, name), 'w') as handle:
            handle.write('new')
    with open(os.path.join(tls, 'custom.crt'), 'w') as handle:
        handle.write('users, changed')
    kargo_backup.restore_file_set(folder, saved, tls)
    contents = dict((name, open(os.path.join(tls, name)).read()) for name in os.listdir(tls))
    assert contents == {'selfsigned.crt': 'old cert', 'selfsigned.key': 'old key', 'custom.crt': 'users, changed'}


def test_a_file_set_of_a_missing_folder_is_named(tmp_path):
    with pytest.raises(kargo_backup.Refused, match='file set geoserver: .*/nowhere is not a folder'):
        kargo_backup.archive_file_set(kargo_backup.parse_file_set('geoserver=%s/nowhere' % tmp_path), str(tmp_path))


def test_an_archive_leaving_its_folder_is_refused_before_extracting(tmp_path):
    path = str(tmp_path / 'files-evil.tar')
    with tarfile.open(path, 'w') as archive:
        for name, kind, link in (('../outside', tarfile.REGTYPE, ''), ('up', tarfile.SYMTYPE, '../../etc/passwd'),
                                 ('abs', tarfile.SYMTYPE, '/etc/passwd'), ('fine', tarfile.SYMTYPE, 'sub/file'),
                                 ('dev', tarfile.CHRTYPE, '')):
            member = tarfile.TarInfo(name)
            member.type, member.linkname = kind, link
            archive.addfile(member, io.BytesIO(b'') if kind == tarfile.REGTYPE else None)
    manifest = {'file_sets': {'evil': {'file': 'files-evil.tar'}}}
    with pytest.raises(kargo_backup.Refused) as refused:
        kargo_backup.check_file_sets('20261203T000000Z', str(tmp_path), manifest)
    said = str(refused.value)
    assert said.startswith('backup 20261203T000000Z is refused: its file set evil has ../outside leaves the folder')
    assert 'up links outside the folder (../../etc/passwd)' in said and 'abs links outside' in said
    assert 'dev is not a file, folder or link' in said and 'fine' not in said


def test_a_file_set_the_backup_does_not_have_is_left_alone(tmp_path):
    wanted = [kargo_backup.parse_file_set('proxy_tls=%s' % tmp_path)]
    assert kargo_backup.restore_file_sets('20261203T000000Z', str(tmp_path), {}, wanted) == []


# --- one at a time -------------------------------------------------------------------------

HOLD_THE_LOCK = """
import fcntl, sys, time
with open(sys.argv[1] + '/.lock', 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print('locked', flush=True)
    time.sleep(0.5)
    open(sys.argv[1] + '/first-done', 'w').close()
"""


def test_a_second_backup_waits_for_the_one_under_way(tmp_path):
    first = subprocess.Popen([sys.executable, '-c', HOLD_THE_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == 'locked'
    with kargo_backup.exclusive(str(tmp_path)):
        assert os.path.exists(str(tmp_path / 'first-done'))
    assert first.wait(timeout=10) == 0


def test_a_half_made_backup_goes_when_none_is_under_way(tmp_path):
    os.makedirs(str(tmp_path / '20261203T031500Z.partial' / 'x'))
    os.makedirs(str(tmp_path / '20261202T031500Z'))
    with kargo_backup.exclusive(str(tmp_path)):
        assert sorted(os.listdir(str(tmp_path))) == ['.lock', '20261202T031500Z']


class ReplayingServer(object):
    """A server that does not answer, then replays WAL (read only), then takes writes."""

    def __init__(self, answers):
        self.answers = list(answers)

    def sql(self, database, statement):
        assert statement == 'SELECT pg_is_in_recovery()'
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer + '\n'


def test_after_a_point_in_time_restore_the_wait_ends_when_the_server_takes_writes():
    server = ReplayingServer([kargo_backup.Refused('psql failed (rc 2): connection refused'), 't', 'f'])
    assert kargo_backup.wait_until_writable(server, timeout=30) == {'changed': False, 'writable': True}
    assert server.answers == ['f']


def test_a_server_that_keeps_replaying_is_named_after_the_timeout():
    with pytest.raises(kargo_backup.Refused, match='does not take writes after 0 s: it is still replaying the WAL'):
        kargo_backup.wait_until_writable(ReplayingServer(['t']), timeout=0)


# pgBackRest's info with a stanza whose db history has two systems (the second current)
INFO_TWO_SYSTEMS = [{'name': 'kargo', 'db': [{'id': 1, 'system-id': 7111, 'version': '17'},
                                             {'id': 2, 'system-id': 7222, 'version': '17'}], 'backup': []}]
INFO_NO_STANZA = [{'name': 'kargo', 'db': [], 'backup': [], 'status': {'code': 1, 'message': 'missing stanza path'}}]


class PgBackRestServer(object):
    """A server answering pgBackRest's info with `info`, its system identifier, and
    recording the pgBackRest commands run."""

    def __init__(self, info, system_id):
        self.info, self.system_id, self.commands = info, system_id, []

    def wait_until_ready(self):
        return {}

    def sql(self, database, statement):
        assert 'system_identifier' in statement
        return '%d\n' % self.system_id

    def run(self, argv, stdin=None):
        command = [a for a in argv[1:] if not a.startswith('--log-level')]
        self.commands.append(command)
        if command[0] == 'info':
            return json.dumps(self.info)
        return 'stanza-create for stanza kargo: completed' if command[0] == 'stanza-create' else ''


def test_the_repository_follows_the_newest_system_of_its_history():
    assert kargo_backup.repository_system_id(INFO_TWO_SYSTEMS) == 7222
    assert kargo_backup.repository_system_id(INFO_NO_STANZA) is None
    assert kargo_backup.repository_system_id([]) is None


def test_the_stanza_is_made_in_an_empty_repository_and_for_the_database_it_follows():
    empty = PgBackRestServer(INFO_NO_STANZA, 7333)
    assert kargo_backup.pitr_init(empty) == {'changed': True, 'other_database': None}
    assert [c[0] for c in empty.commands] == ['info', 'stanza-create']
    same = PgBackRestServer(INFO_TWO_SYSTEMS, 7222)
    assert kargo_backup.pitr_init(same)['other_database'] is None
    assert [c[0] for c in same.commands] == ['info', 'stanza-create']


def test_a_repository_that_outlived_its_database_is_left_to_it():
    # the database made anew beside it: its backups restore the one before (to a time)
    new = PgBackRestServer(INFO_TWO_SYSTEMS, 7333)
    assert kargo_backup.pitr_init(new) == {'changed': False, 'other_database': 7222}
    assert [c[0] for c in new.commands] == ['info']


def test_after_a_logical_restore_into_a_new_database_the_repository_follows_it():
    new = PgBackRestServer(INFO_TWO_SYSTEMS, 7333)
    assert kargo_backup.pitr_follow(new) is True
    assert [c[0] for c in new.commands] == ['info', 'stanza-upgrade']
    for info, system_id in ((INFO_TWO_SYSTEMS, 7222), (INFO_NO_STANZA, 7333)):
        server = PgBackRestServer(info, system_id)
        assert kargo_backup.pitr_follow(server) is False
        assert [c[0] for c in server.commands] == ['info']


def test_a_point_in_time_restore_waits_until_the_server_has_left_its_data_directory(tmp_path):
    pid_file = tmp_path / 'postmaster.pid'
    pid_file.write_text('42\n')
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            pid_file.unlink()
    kargo_backup.wait_until_stopped(str(tmp_path), 60, clock=lambda: len(slept), sleep=sleep)
    assert slept == [1, 1, 1]


def test_a_server_that_does_not_stop_is_named_after_the_timeout(tmp_path):
    (tmp_path / 'postmaster.pid').write_text('42\n')
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(kargo_backup.Refused, match='the database still runs on .* after 30 s .*postmaster.pid is there'):
        kargo_backup.wait_until_stopped(str(tmp_path), 30, clock=lambda: next(ticks), sleep=lambda s: None)
