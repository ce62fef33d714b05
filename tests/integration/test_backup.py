"""Backups that restore (compose mode, real engine, real PostGIS): the round trip a user
makes after losing everything - deploy, rows of their own, backup.yml, remove.yml with the
volumes, site.yml, restore.yml - gives every row, role and map back, checked against the
manifest; a corrupted, truncated, unknown or too new backup is refused before anything
changes. Its own prefix and ports; the database, QGIS Server (the map compared), the
proxy, and GeoServer enabled but skipped (no image here). Last, the scheduled backups: a
service that backs up every minute by itself, applies retention and records a failure."""
import datetime
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import time

import pytest
from PIL import Image

from kargo_testlib import ROOT, container_ids, engine, run_playbook
from stack_checks import EUROPE_3857, qgis_wms

PREFIX = 'kargo-test-backup'
ROOT_DIR = '/tmp/kargo-test-backup'
BACKUP_ROOT = ROOT_DIR + '/backups'
FETCH_DIR = ROOT_DIR + '-fetched'
HTTPS_PORT = 18743
BASE = 'https://localhost:%d' % HTTPS_PORT
SETTINGS = {
    'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
    # geoserver: enabled as by default, and skipped here (no image): the restore must not
    # restart a reader that is not deployed
    'kargo_services': ['postgis', 'qgis_server', 'geoserver', 'proxy'],
    'kargo_http_port': 18380, 'kargo_https_port': HTTPS_PORT,
    # no scheduled backup but those of the schedule's own tests (a run at 03:15 UTC would
    # add a backup to the ones the other tests choose from)
    'kargo_backup_schedule': '',
}
# the backup program itself, for the queries of its older manifest format
PROGRAM = importlib.util.spec_from_file_location('kargo_backup', os.path.join(ROOT, 'roles', 'backup', 'files', 'kargo_backup.py'))
kargo_backup = importlib.util.module_from_spec(PROGRAM)
PROGRAM.loader.exec_module(kargo_backup)
SURVEYOR_PASSWORD = 'field-pass-ü1'
USER_DATA = """
CREATE TABLE public.survey_points (id serial PRIMARY KEY, name text NOT NULL, geom geometry);
INSERT INTO public.survey_points (name, geom) VALUES
  ('Zürich Hauptbahnhof', ST_SetSRID(ST_MakePoint(8.5402, 47.3782), 4326)),
  ('Ølstykke — Kirke', ST_Transform(ST_SetSRID(ST_MakePoint(12.16, 55.79), 4326), 3857)),
  ('no position yet', NULL),
  ('Île de la Cité', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(2.347, 48.855), 4326), 0.01)));
-- partitioned: hashed whole, in key order across its partitions (not ONLY the parent, which holds no row)
CREATE TABLE public.readings (id integer, taken date, geom geometry(Point, 4326), PRIMARY KEY (id, taken))
  PARTITION BY RANGE (taken);
CREATE TABLE public.readings_2025 PARTITION OF public.readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.readings_2026 PARTITION OF public.readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.readings VALUES (2, '2026-03-01', ST_SetSRID(ST_MakePoint(7.1, 46.2), 4326)),
                                   (1, '2025-06-01', ST_SetSRID(ST_MakePoint(7.2, 46.3), 4326)),
                                   (3, '2025-02-01', ST_SetSRID(ST_MakePoint(7.3, 46.4), 4326));
CREATE ROLE surveyor LOGIN PASSWORD '%s';
CREATE DATABASE field_notes OWNER surveyor;
""" % SURVEYOR_PASSWORD
FIELD_NOTES = """
CREATE EXTENSION postgis;
SET ROLE surveyor;
CREATE TABLE notes (id integer PRIMARY KEY, body text, geom geometry(Point, 2056));
INSERT INTO notes VALUES (1, 'Grenzstein Nr. 7 — gefunden', ST_SetSRID(ST_MakePoint(2600000, 1200000), 2056)),
                         (2, 'ñandú seen', ST_SetSRID(ST_MakePoint(2601000, 1201000), 2056));
"""


def site(**more):
    return run_playbook('site.yml', dict(SETTINGS, **more))


def backup(**more):
    return run_playbook('playbooks/backup.yml', dict(SETTINGS, **more))


def restore(**more):
    return run_playbook('playbooks/restore.yml', dict(SETTINGS, **more))


def remove_everything():
    run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    shutil.rmtree(ROOT_DIR, ignore_errors=True)
    shutil.rmtree(ROOT_DIR + '-secrets', ignore_errors=True)
    shutil.rmtree(FETCH_DIR, ignore_errors=True)


def psql(sql, database='gis', user='kargo', password=None):
    """psql in the database container: over the local socket (trusted), or over TCP with
    a password (scram: the role's password is checked)."""
    container = container_ids(PREFIX + '-postgis')['postgis']
    command = ['docker', 'exec', '-i']
    if password is not None:
        command += ['-e', 'PGPASSWORD=' + password]
    command += [container, 'psql', '-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-U', user, '-d', database]
    if password is not None:
        command += ['-h', '127.0.0.1']
    done = subprocess.run(command, input=sql, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def user_rows():
    """Every row of the test's own, as text, geometries as EWKT (their SRID included)."""
    return {
        'survey_points': psql("SELECT id, name, coalesce(ST_AsEWKT(geom), 'NULL') FROM survey_points ORDER BY id"),
        'readings': psql("SELECT id, taken, ST_AsEWKT(geom) FROM readings ORDER BY id"),
        'notes': psql("SELECT id, body, ST_AsEWKT(geom) FROM notes ORDER BY id", database='field_notes'),
        'roles': psql("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'surveyor'"),
    }


def databases():
    return sorted(psql("SELECT datname FROM pg_database WHERE NOT datistemplate").split())


def countries_map():
    picture = qgis_wms(BASE).getmap(layers=['countries'], srs='EPSG:3857', bbox=EUROPE_3857, size=(256, 256),
                                    format='image/png', transparent=False)
    return Image.open(io.BytesIO(picture.read())).convert('RGB')


def served_certificate():
    return ssl.get_server_certificate(('localhost', HTTPS_PORT))


def tls_files():
    """The proxy's self-signed certificate and key on the host: {name: (bytes, uid, mode)}."""
    folder = os.path.join(ROOT_DIR, 'proxy', 'tls')
    found = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith('selfsigned.'):
            with open(os.path.join(folder, name), 'rb') as handle:
                info = os.stat(os.path.join(folder, name))
                found[name] = (handle.read(), info.st_uid, oct(info.st_mode & 0o777))
    return found


def manifest(name):
    with open(os.path.join(BACKUP_ROOT, name, 'manifest.json')) as handle:
        return json.load(handle)


@pytest.fixture(scope='module')
def before():
    """The stack deployed, the test's rows written, what a user sees recorded."""
    remove_everything()
    first = site()
    assert first.rc == 0, first.explain()
    psql(USER_DATA)
    psql(FIELD_NOTES, database='field_notes')
    try:
        yield {'rows': user_rows(), 'map': countries_map(), 'certificate': served_certificate(), 'tls': tls_files()}
    finally:
        remove_everything()


@pytest.fixture(scope='module')
def made(before):
    run = backup(kargo_backup_fetch=True, kargo_backup_fetch_dir=FETCH_DIR)
    assert run.rc == 0, run.explain()
    names = sorted(os.listdir(BACKUP_ROOT))
    return {'run': run, 'name': [n for n in names if n.endswith('Z')][-1]}


def test_the_backup_says_where_it_is_its_size_and_what_it_holds(made):
    said = [m for m in made['run'].messages() if m.startswith('Backup ')]
    print('\n' + '\n'.join(said))
    assert said and 'in %s/%s on localhost' % (BACKUP_ROOT, made['name']) in said[0], made['run'].messages()
    assert 'database gis (3 tables' in said[0] and 'database field_notes (1 tables, 2 rows)' in said[0]
    assert 'PostgreSQL 17' in said[0]
    assert 'Point in time: pgBackRest full backup ' in said[0] and 'checked and verified' in said[0]
    # GeoServer is enabled but not deployed (no image here): its data directory is not a file set
    assert 'the files proxy_tls (2)' in said[0] and 'geoserver' not in said[0]


def test_the_backup_holds_the_roles_a_dump_per_database_and_a_manifest(made):
    folder = os.path.join(BACKUP_ROOT, made['name'])
    assert sorted(os.listdir(folder)) == ['field_notes.dump', 'files-proxy_tls.tar', 'gis.dump', 'globals.sql',
                                          'manifest.json']
    assert oct(os.stat(BACKUP_ROOT).st_mode & 0o777) == '0o700'
    # what the program (root in its container) wrote is the database's uid's
    assert set(os.stat(os.path.join(folder, name)).st_uid for name in os.listdir(folder)) == {999}
    with open(os.path.join(folder, 'globals.sql')) as handle:
        assert 'CREATE ROLE surveyor;' in handle.read()
    saved = manifest(made['name'])
    assert saved['verified'] is True and saved['server']['version_num'] // 10000 == 17
    points = saved['databases']['gis']['tables']['"public"."survey_points"']
    assert points['rows'] == 4 and points['geometry']['geom']['srids'] == [3857, 4326]
    assert saved['databases']['gis']['tables']['"public"."countries"']['rows'] > 100
    assert 'postgis' in saved['databases']['field_notes']['extensions']
    assert saved['databases']['field_notes']['owner'] == 'surveyor'
    assert set(saved['files']) == {'field_notes.dump', 'files-proxy_tls.tar', 'gis.dump', 'globals.sql'}
    assert saved['file_sets'] == {'proxy_tls': {'file': 'files-proxy_tls.tar', 'dir': '/kargo/files/proxy_tls',
                                                'glob': 'selfsigned.*', 'members': 2}}


def test_the_backup_is_copied_to_the_controller_as_the_manifest_says(made):
    fetched = os.path.join(FETCH_DIR, made['name'])
    assert sorted(os.listdir(fetched)) == ['field_notes.dump', 'files-proxy_tls.tar', 'gis.dump', 'globals.sql',
                                           'manifest.json']
    with open(os.path.join(fetched, 'manifest.json')) as handle:
        saved = json.load(handle)
    for file_name, expected in saved['files'].items():
        with open(os.path.join(fetched, file_name), 'rb') as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == expected['sha256'], file_name
    assert 'copied to %s' % fetched in ' '.join(made['run'].messages())


def copy_of(made, name, change):
    """A copy of the backup under another name, changed by change(folder, manifest)."""
    folder = os.path.join(BACKUP_ROOT, name)
    shutil.copytree(os.path.join(BACKUP_ROOT, made['name']), folder)
    saved = manifest(name)
    change(folder, saved)
    with open(os.path.join(folder, 'manifest.json'), 'w') as handle:
        json.dump(saved, handle)
    subprocess.run(['chown', '-R', '999:999', folder], check=True)
    return name


def flip_bytes(folder, saved):
    with open(os.path.join(folder, 'gis.dump'), 'r+b') as handle:
        handle.seek(os.path.getsize(handle.name) // 2)
        handle.write(b'\x00kargo\xff')


def truncate_and_rechecksum(folder, saved):
    """Cut in half, the manifest made to agree: only reading the dump whole finds it."""
    path = os.path.join(folder, 'gis.dump')
    with open(path, 'r+b') as handle:
        handle.truncate(os.path.getsize(path) // 2)
    with open(path, 'rb') as handle:
        content = handle.read()
    saved['files']['gis.dump'] = {'bytes': len(content), 'sha256': hashlib.sha256(content).hexdigest()}


def from_a_newer_server(folder, saved):
    saved['server']['version_num'] = 180002


def other_geometries(folder, saved):
    """The dump intact, the manifest's hash of one geometry column another one (as when a
    restore gives other geometries back): found only by comparing the restored rows."""
    saved['databases']['gis']['tables']['"public"."survey_points"']['geometry']['geom']['hash'] = '0' * 64


@pytest.mark.parametrize('name, change, message', [
    ('20000101T000001Z', flip_bytes,
     'backup 20000101T000001Z is refused: the checksum of gis.dump does not match the manifest (the file changed since the backup)'),
    ('20000101T000002Z', truncate_and_rechecksum, 'backup 20000101T000002Z is refused: gis.dump cannot be read whole'),
    ('20000101T000003Z', from_a_newer_server,
     'backup 20000101T000003Z was made by PostgreSQL 18, newer than this server (PostgreSQL 17)'),
    ('20000101T000004Z', None, 'kargo_restore_from: no backup named 20000101T000004Z in %s (there are: ' % BACKUP_ROOT),
    ('20000101T000005Z', other_geometries,
     'the restore of gis does not match its manifest (table "public"."survey_points": geometries of geom differ '
     'from the saved ones); nothing was swapped in'),
])
def test_a_bad_backup_is_refused_and_the_database_is_untouched(before, made, name, change, message):
    if change:
        copy_of(made, name, change)
    served = databases()
    refused = restore(kargo_restore_from=name)
    assert refused.rc != 0
    assert 'restore refused: ' + message in ' '.join(refused.failure_messages()), refused.explain()
    assert user_rows() == before['rows']
    assert databases() == served


def test_a_restore_name_that_is_no_backup_name_fails_naming_the_setting(made):
    refused = restore(kargo_restore_from='latest')
    assert refused.rc != 0
    assert 'kargo_restore_from: ' in refused.stdout and 'must be the name of a backup folder' in refused.stdout, \
        refused.explain()


def database_started_at():
    return engine().containers.get(container_ids(PREFIX + '-postgis')['postgis']).attrs['State']['StartedAt']


@pytest.mark.parametrize('settings, message', [
    ({'kargo_restore_time': '2000-01-01 00:00:00+00'},
     'restore refused: kargo_restore_time: 2000-01-01T00:00:00+00:00 is before the oldest backup, which ended at '),
    ({'kargo_restore_time': '2999-01-01 00:00:00+00'}, 'restore refused: kargo_restore_time: 2999-01-01T00:00:00+00:00 is in the future'),
    ({'kargo_restore_time': 'yesterday'}, "kargo_restore_time: yesterday must be a time with its UTC offset, like '2026-11-24 10:15:00+00'"),
    ({'kargo_restore_time': '2026-12-01 00:00:00+00', 'kargo_restore_from': '20261201T000000Z'},
     'kargo_restore_time and kargo_restore_from are both given'),
    ({'kargo_restore_time': '2026-12-01 00:00:00+00', 'kargo_backup_pitr': False},
     'kargo_restore_time: point-in-time recovery is off (kargo_backup_pitr is false)'),
], ids=['before-the-oldest-backup', 'in-the-future', 'not-a-time', 'time-and-name', 'pitr-off'])
def test_a_restore_time_out_of_reach_is_refused_and_the_database_untouched(before, made, settings, message):
    started, rows = database_started_at(), user_rows()
    refused = restore(**settings)
    assert refused.rc != 0
    assert message in refused.stdout, refused.explain()
    assert database_started_at() == started and user_rows() == rows


def test_the_database_goes_back_to_a_point_in_time(before, made):
    """Rows at T1, more at T2; restored to T1: the T1 rows are there, the T2 rows are not,
    and the database takes writes again."""
    psql("CREATE TABLE pitr_marks (id integer PRIMARY KEY, note text); INSERT INTO pitr_marks VALUES (1, 'at T1 — ü');")
    t1 = psql('SELECT now()').strip()
    time.sleep(1.5)
    psql("INSERT INTO pitr_marks VALUES (2, 'at T2')")
    restored = restore(kargo_restore_time=t1)
    assert restored.rc == 0, restored.explain()
    said = ' '.join(restored.messages())
    assert 'Restored the database to ' in said and 'new timeline' in said, said
    assert psql('SELECT id, note FROM pitr_marks ORDER BY id') == '1|at T1 — ü\n'
    assert user_rows() == before['rows']
    psql("INSERT INTO pitr_marks VALUES (2, 'written after the restore')")
    # QGIS Server reconnected: the map is the same
    assert countries_map().tobytes() == before['map'].tobytes()


def test_after_losing_everything_site_and_restore_give_every_row_role_and_map_back(before, made):
    removed = run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    assert removed.rc == 0, removed.explain()
    assert not engine().volumes.list(filters={'name': PREFIX + '-postgis-data'})
    # the disk with the proxy's self-signed certificate is lost too: site.yml makes another
    for name in before['tls']:
        os.remove(os.path.join(ROOT_DIR, 'proxy', 'tls', name))
    again = site()
    assert again.rc == 0, again.explain()
    assert 'field_notes' not in databases()
    assert served_certificate() != before['certificate']

    restored = restore()
    assert restored.rc == 0, restored.explain()
    said = ' '.join(restored.messages())
    assert 'Restored backup %s: field_notes, gis (every table matches the manifest' % made['name'] in said, said
    assert user_rows() == before['rows']
    # the certificate and key are back, owners and modes kept, and the proxy serves them
    assert 'the files proxy_tls back in their folders' in said, said
    assert tls_files() == before['tls']
    assert served_certificate() == before['certificate']
    # the role logs in with its own password (over TCP: checked)
    assert psql('SELECT count(*) FROM notes', database='field_notes', user='surveyor',
                password=SURVEYOR_PASSWORD).strip() == '2'
    # the database made by the new deploy is kept, as the message says
    kept = [name for name in databases() if name.startswith('gis_before_')]
    assert len(kept) == 1 and 'kept as %s' % kept[0] in said
    after = countries_map()
    differing = sum(1 for was, now in zip(before['map'].getdata(), after.getdata()) if was != now)
    if differing:
        before['map'].save('/tmp/kargo-test-backup-map-before.png')
        after.save('/tmp/kargo-test-backup-map-after.png')
    assert differing == 0, '%d pixels differ (/tmp/kargo-test-backup-map-*.png)' % differing


def test_a_backup_of_manifest_format_1_still_restores_compared_as_format_1(before, made):
    """Backups made before manifest format 2 hashed their geometries otherwise (md5s joined
    in key order): they restore, compared with the hash their format names. Just after the
    round trip the database holds what the backup does, so its format-1 hashes are the
    saved ones."""
    def as_format_1(folder, saved):
        saved['format'] = 1
        for database, described in saved['databases'].items():
            for table, summary in described['tables'].items():
                schema, name = [part.strip('"') for part in table.split('.')]
                for column, values in summary['geometry'].items():
                    query = kargo_backup.geometry_hash_query_v1(
                        {'schema': schema, 'table': name, 'key': summary['key']}, column)
                    values['hash'] = json.loads(psql(query, database=database))['hash']
                    assert len(values['hash']) == 32, (table, column)

    name = copy_of(made, '20000101T000006Z', as_format_1)
    restored = restore(kargo_restore_from=name)
    assert restored.rc == 0, restored.explain()
    assert 'Restored backup %s: field_notes, gis (every table matches the manifest' % name in \
        ' '.join(restored.messages()), restored.explain()
    assert user_rows() == before['rows']


def test_a_backup_made_while_rows_are_written_matches_its_manifest(before):
    """The dump and the manifest are of one snapshot: rows written during the backup are
    in neither or in both, so its restore matches the manifest."""
    psql('CREATE TABLE busy (id serial PRIMARY KEY, geom geometry(Point, 4326))')
    stop, written = threading.Event(), []

    def write():
        while not stop.is_set():
            psql('INSERT INTO busy (geom) SELECT ST_SetSRID(ST_MakePoint(random(), random()), 4326) '
                 'FROM generate_series(1, 50)')
            written.append(50)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        made = backup()
    finally:
        stop.set()
        writer.join()
    assert made.rc == 0, made.explain()
    name = [m for m in made.messages() if m.startswith('Backup ')][0].split()[1]
    saved = manifest(name)['databases']['gis']['tables']['"public"."busy"']['rows']
    print('\n%d rows written during the backup, %d in it' % (sum(written), saved))
    assert 0 < saved < sum(written), 'the writes must overlap the backup'
    restored = restore(kargo_restore_from=name)
    assert restored.rc == 0, restored.explain()
    assert int(psql('SELECT count(*) FROM busy')) == saved


# --- scheduled backups -----------------------------------------------------------------

SCHEDULE = {'kargo_backup_schedule': '* * * * *', 'kargo_backup_keep_daily': 2, 'kargo_backup_keep_weekly': 0,
            'kargo_backup_keep_monthly': 0, 'backup_schedule_ready_timeout': 10}


def status():
    with open(os.path.join(BACKUP_ROOT, 'status.json')) as handle:
        return json.load(handle)


def scheduler_logs():
    done = subprocess.run(['docker', 'logs', PREFIX + '-backup-backup-1'], capture_output=True, text=True)
    return done.stdout + done.stderr


def next_scheduled_run(after, timeout=150):
    """status.json once a scheduled run that started after `after` has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status()
        if current.get('last_scheduled_at', '') > after:
            return current
        time.sleep(2)
    raise AssertionError('no scheduled backup within %d s; status %s; logs:\n%s' % (timeout, status(), scheduler_logs()))


def unverified(folder, saved):
    saved['verified'] = False


def test_a_schedule_out_of_range_fails_naming_it(before):
    run = site(kargo_backup_schedule='61 3 * * *')
    assert run.rc != 0
    assert "kargo_backup_schedule: '61' is out of range for the minute (0-59)" in run.stdout, run.explain()
    assert not container_ids(PREFIX + '-backup')


@pytest.fixture(scope='module')
def scheduled(before, made):
    """Backups of older days beside today's, then the schedule deployed twice."""
    for name, change in (('20260101T031500Z', None), ('20260102T031500Z', None), ('20260103T031500Z', unverified)):
        copy_of(made, name, change or (lambda folder, saved: None))
    started = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    first, second = site(**SCHEDULE), site(**SCHEDULE)
    assert first.rc == 0, first.explain()
    return {'first': first, 'second': second, 'started': started}


def test_the_scheduled_backups_deploy_is_idempotent(scheduled):
    assert 'geostack.kargo.common : backup | deploy the compose project' in scheduled['first'].changed_tasks()
    assert scheduled['second'].rc == 0, scheduled['second'].explain()
    assert scheduled['second'].stats()['changed'] == 0, scheduled['second'].changed_tasks()


def test_the_schedule_backs_up_by_itself_and_retention_keeps_the_newest(scheduled, made):
    done = next_scheduled_run(scheduled['started'])
    assert done['last_scheduled_ok'] is True, (done, scheduler_logs())
    newest = done['last_backup']
    assert newest > made['name'] and manifest(newest)['verified'] is True
    # kept: the newest of today and of the newest other day with a verified backup; gone:
    # today's older ones, 2026-01-01 (a third day), the unverified 2026-01-03, 2000-01-01
    assert sorted(n for n in os.listdir(BACKUP_ROOT) if n.endswith('Z')) == ['20260102T031500Z', newest]
    logs = scheduler_logs()
    print('\n' + logs[-1500:])
    assert 'backup %s done' % newest in logs
    assert 'retention: removed backup 20260101T031500Z' in logs and 'retention: removed backup %s' % made['name'] in logs
    made_at = datetime.datetime.strptime(newest, '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
    assert done['schedule'] == '* * * * *' and datetime.datetime.fromisoformat(done['next_run_at']) > made_at


def test_a_failed_scheduled_backup_is_in_the_log_and_the_status(scheduled):
    stopped_at = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    subprocess.run(['docker', 'stop', PREFIX + '-postgis-postgis-1'], check=True, capture_output=True)
    kept = sorted(os.listdir(BACKUP_ROOT))
    done = next_scheduled_run(stopped_at)
    assert done['last_scheduled_ok'] is False
    assert done['last_failure_at'] > stopped_at and 'psql failed' in done['last_failure'], done
    assert 'scheduled backup FAILED: psql failed' in scheduler_logs()
    assert sorted(os.listdir(BACKUP_ROOT)) == kept, 'a failed backup leaves nothing behind'


def test_status_and_backup_check_mode_say_the_newest_backup_and_the_last_failure(scheduled):
    """Read while the database is still down (the failure above): nothing changes."""
    names, newest = sorted(os.listdir(BACKUP_ROOT)), status()['last_backup']
    for run in (run_playbook('playbooks/status.yml', SETTINGS),
                run_playbook('playbooks/backup.yml', SETTINGS, options=['--check'])):
        assert run.rc == 0, run.explain()
        said = ' '.join(run.messages())
        print('\n' + said)
        assert '2 backups in %s' % BACKUP_ROOT in said and 'the newest: %s, verified' % newest in said, said
        assert re.search(r'Last scheduled run: [0-9TZ]+, FAILED\.', said), said
        assert 'Last failure, at ' in said and 'psql failed' in said and 'next run at ' in said, said
        assert run.stats().get('changed', 0) == 0, run.changed_tasks()
    assert sorted(os.listdir(BACKUP_ROOT)) == names


def test_an_empty_schedule_removes_the_service_and_keeps_the_backups(scheduled):
    kept = sorted(n for n in os.listdir(BACKUP_ROOT) if n.endswith('Z'))
    run = site()
    assert run.rc == 0, run.explain()
    assert not container_ids(PREFIX + '-backup')
    assert sorted(n for n in os.listdir(BACKUP_ROOT) if n.endswith('Z')) == kept
