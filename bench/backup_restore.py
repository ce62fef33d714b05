#!/usr/bin/env python
"""Backup and restore of a generated PostGIS database (about 1 GB by default: points and
polygons with attributes), through playbooks/backup.yml and playbooks/restore.yml, beside
the plain tools doing the same work on the same database in the same run:

  plain backup   pg_dumpall --globals-only, then pg_dump -Fc of the database, in the
                 database's container (the same binaries kargo-backup uses)
  plain restore  createdb, then pg_restore into it: as the plain tool does by default
                 (one job), and with --jobs <cores> as kargo-backup runs it

What kargo adds on top: each dump read back whole and checksummed, the manifest (row
counts, SRIDs, a hash of every geometry), and at restore the checks, ANALYZE, the
comparison with the manifest and the swap; plus Ansible's own start-up. Also printed: the
point-in-time restore (restore.yml -e kargo_restore_time, to a moment after the backup).
Wall-clock seconds.

  bench/backup_restore.py [GB]     (default 1.0; e.g. 0.1 for a quick look)
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import container_ids, run_playbook  # noqa: E402

PREFIX = 'kargo-bench-backup'
ROOT_DIR = '/tmp/kargo-bench-backup'
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
            'kargo_services': ['postgis'], 'kargo_backup_schedule': '', 'kargo_sample_data': False}
# rows per GB of the generated tables (measured: pg_database_size after the load)
POINTS_PER_GB = 4700000
POLYGONS_PER_GB = 240000
GENERATE = """
CREATE TABLE bench_points (id bigserial PRIMARY KEY, name text, category int, observed timestamptz,
                           geom geometry(Point, 4326));
INSERT INTO bench_points (name, category, observed, geom)
  SELECT 'point ' || n || ' — ñ', n % 97, now() - n * interval '1 second',
         ST_SetSRID(ST_MakePoint(-180 + random() * 360, -85 + random() * 170), 4326)
  FROM generate_series(1, {points}) AS n;
CREATE INDEX ON bench_points USING gist (geom);
CREATE TABLE bench_parcels (id serial PRIMARY KEY, owner text, geom geometry(MultiPolygon, 3857));
INSERT INTO bench_parcels (owner, geom)
  SELECT 'owner ' || n, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(random() * 4e6, random() * 4e6), 3857),
                                          50 + random() * 500, 8))
  FROM generate_series(1, {polygons}) AS n;
CREATE INDEX ON bench_parcels USING gist (geom);
VACUUM ANALYZE;
"""


def postgis():
    return container_ids(PREFIX + '-postgis')['postgis']


def in_database(*command, stdin=None):
    """A command in the database's container, as postgres (local socket: trusted)."""
    started = time.monotonic()
    subprocess.run(['docker', 'exec', '-i', '-u', 'postgres', postgis()] + list(command),
                   input=stdin, check=True, capture_output=True, text=True)
    return time.monotonic() - started


def playbook(name, **more):
    """(seconds, the phases kargo-backup timed: {phase: seconds})."""
    run = run_playbook(name, dict(SETTINGS, **more))
    if run.rc != 0:
        sys.exit('%s failed:\n%s' % (name, run.explain()))
    phases = {}
    for task, result in run.task_results():
        if 'run kargo-backup' in task and result.get('stdout', '').startswith('{'):
            phases.update(json.loads(result['stdout']).get('seconds', {}))
    return run.seconds, phases


def phases_line(phases):
    return '      ' + ', '.join('%s %.1f s' % item for item in phases.items())


def sql(statement, database='gis'):
    return subprocess.run(['docker', 'exec', '-u', 'postgres', postgis(), 'psql', '-X', '-tA', '-U', 'kargo',
                           '-d', database, '-c', statement], check=True, capture_output=True, text=True).stdout.strip()


def main():
    gigabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    subprocess.run(['rm', '-rf', ROOT_DIR, ROOT_DIR + '-secrets'], check=True)
    playbook('site.yml')
    print('generating the database (%.2f GB asked)...' % gigabytes, flush=True)
    generated = in_database('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'kargo', '-d', 'gis', stdin=GENERATE.format(
        points=int(POINTS_PER_GB * gigabytes), polygons=int(POLYGONS_PER_GB * gigabytes)))
    size = int(sql("SELECT pg_database_size('gis')"))
    rows = sql('SELECT (SELECT count(*) FROM bench_points) + (SELECT count(*) FROM bench_parcels)')
    print('database gis: %.2f GB, %s rows, generated in %.0f s' % (size / 1e9, rows, generated), flush=True)

    plain_backup = (in_database('pg_dumpall', '-U', 'kargo', '--globals-only', '-f', '/tmp/bench-globals.sql')
                    + in_database('pg_dump', '-U', 'kargo', '-Fc', '-d', 'gis', '-f', '/tmp/bench.dump'))
    dump_bytes = int(subprocess.run(['docker', 'exec', postgis(), 'stat', '-c', '%s', '/tmp/bench.dump'],
                                    check=True, capture_output=True, text=True).stdout)
    plain_restore = (in_database('createdb', '-U', 'kargo', 'gis_plain')
                     + in_database('pg_restore', '-U', 'kargo', '-d', 'gis_plain', '/tmp/bench.dump'))
    in_database('dropdb', '-U', 'kargo', 'gis_plain')
    jobs = str(os.cpu_count())
    plain_parallel = (in_database('createdb', '-U', 'kargo', 'gis_plain')
                      + in_database('pg_restore', '-U', 'kargo', '--jobs', jobs, '-d', 'gis_plain', '/tmp/bench.dump'))
    in_database('dropdb', '-U', 'kargo', 'gis_plain')
    in_database('rm', '-f', '/tmp/bench.dump', '/tmp/bench-globals.sql')

    kargo_backup, backup_phases = playbook('playbooks/backup.yml')
    kargo_restore, restore_phases = playbook('playbooks/restore.yml')
    # a time after the pgBackRest backup made by backup.yml, a commit after it
    sql('CREATE TABLE bench_marks (id int)')
    target = sql('SELECT now()')
    sql('INSERT INTO bench_marks VALUES (1)')
    pitr_restore, _phases = playbook('playbooks/restore.yml', kargo_restore_time=target)

    print('\nbackup and restore of a %.2f GB database (%s rows, dump %.0f MB), %d cores'
          % (size / 1e9, rows, dump_bytes / 1e6, os.cpu_count()))
    line = '  %-58s %7.1f s'
    print(line % ('plain backup: pg_dumpall --globals-only + pg_dump -Fc', plain_backup))
    print(line % ('kargo backup.yml (+ read back whole, checksums, manifest)', kargo_backup)
          + '  (%.2fx plain; target <= 1.2x)' % (kargo_backup / plain_backup))
    print(phases_line(backup_phases))
    logical = kargo_backup - backup_phases.get('pgBackRest backup', 0)
    print(line % ('  of which the logical backup (all but pgBackRest)', logical)
          + '  (%.2fx plain)' % (logical / plain_backup))
    print(line % ('plain restore: createdb + pg_restore', plain_restore))
    print(line % ('plain restore, --jobs %s: createdb + pg_restore --jobs %s' % (jobs, jobs), plain_parallel))
    print(line % ('kargo restore.yml (+ checks, ANALYZE, manifest compared, swap)', kargo_restore)
          + '  (%.2fx plain; target <= 1.2x; %.2fx plain --jobs %s)'
          % (kargo_restore / plain_restore, kargo_restore / plain_parallel, jobs))
    print(phases_line(restore_phases))
    print(line % ('kargo restore.yml to a time (pgBackRest restore, WAL replay)', pitr_restore))
    run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
    subprocess.run(['rm', '-rf', ROOT_DIR, ROOT_DIR + '-secrets'], check=True)
    # remove.yml keeps the shared networks unless every known service is removed
    subprocess.run(['docker', 'network', 'rm', PREFIX + '-front', PREFIX + '-back'], capture_output=True)


if __name__ == '__main__':
    main()
