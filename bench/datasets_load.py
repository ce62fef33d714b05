#!/usr/bin/env python
"""Loading a user's dataset (kargo_datasets) through playbooks/data.yml, beside plain
ogr2ogr loading the same file into the same database in the same run.

Generated here: a GeoPackage of 1,000,000 points with attributes and one of polygons of
about 50 MB (octagons with attributes), written as CSV and turned into GeoPackages by the
tools image's ogr2ogr. The stack is the database alone (prefix kargo-bench-data).

  plain    ogr2ogr -f PostgreSQL (PG_USE_COPY, GiST index, geometry column geom) in a
           one-off tools container on the database's network
  kargo    ansible-playbook playbooks/data.yml: the file hashed on the controller, copied
           to the host, checked with ogrinfo, loaded by ogr2ogr into the staging schema,
           made one geometry type, its extent read, swapped in with its record

Wall-clock seconds; the target is kargo within 1.2x of plain.

Then the publish time of a new dataset end to end: the polygons (a tenth of them, at scale
1) added to a stack of every map service (bench_stack, with the sample data) by data.yml, and
the time until a WMTS tile and a vector tile over them answer through the proxy, with
where data.yml spent it (the tasks' durations): the load, QGIS Server's project, the
vector tiles (tippecanoe), MapProxy's seeding, the rest.

  bench/datasets_load.py [SCALE]     (default 1.0: 1,000,000 points; 0.1 for a quick look)
"""
import datetime
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from kargo_testlib import built_names, run_playbook  # noqa: E402
from stack_checks import get, tile_xy  # noqa: E402
import bench_stack  # noqa: E402

PREFIX = 'kargo-bench-data'
ROOT_DIR = '/tmp/kargo-bench-data'
SETTINGS = {'kargo_prefix': PREFIX, 'kargo_root': ROOT_DIR, 'kargo_secrets_dir': ROOT_DIR + '-secrets',
            'kargo_services': ['postgis'], 'kargo_backup_schedule': '', 'kargo_backup_pitr': False,
            'kargo_sample_data': False}
POINTS = 1000000
# octagons of 8 vertices with two attributes: about 330 bytes each in a GeoPackage
POLYGONS = 150000


def write_points(path, count):
    generator = random.Random(1)
    with open(path, 'w') as handle:
        handle.write('id,name,category,x,y\n')
        for n in range(count):
            handle.write('%d,point %d é,%d,%.6f,%.6f\n' % (n, n, n % 97, generator.uniform(-180, 180),
                                                            generator.uniform(-85, 85)))


def write_polygons(path, count):
    generator = random.Random(2)
    with open(path, 'w') as handle:
        handle.write('id,owner,wkt\n')
        for n in range(count):
            x, y, r = generator.uniform(0, 4e6), generator.uniform(0, 4e6), generator.uniform(50, 500)
            ring = ['%.1f %.1f' % (x + r * math.cos(a * math.pi / 4), y + r * math.sin(a * math.pi / 4)) for a in range(8)]
            handle.write('%d,owner %d,"POLYGON((%s))"\n' % (n, n, ', '.join(ring + ring[:1])))


def tools(folder, *argv, network=None, env=()):
    command = ['docker', 'run', '--rm', '--user', '0:0', '--volume', '%s:/w' % folder, '--workdir', '/w']
    if network:
        command += ['--network', network]
    for item in env:
        command += ['--env', item]
    started = time.monotonic()
    subprocess.run(command + [built_names()['tools']] + list(argv), check=True, capture_output=True, text=True)
    return time.monotonic() - started


def plain_load(folder, file_name, table, srs):
    password = open(SETTINGS['kargo_secrets_dir'] + '/db_password').read().strip()
    return tools(folder, 'ogr2ogr', '-f', 'PostgreSQL', 'PG:', file_name, '-nln', table, '-lco', 'GEOMETRY_NAME=geom',
                 '-lco', 'SPATIAL_INDEX=GIST', '-lco', 'OVERWRITE=YES', '-a_srs', srs, '--config', 'PG_USE_COPY', 'YES',
                 network=PREFIX + '-back', env=('PGHOST=postgis', 'PGUSER=kargo', 'PGDATABASE=gis', 'PGPASSWORD=' + password))


def kargo_load(datasets):
    """(seconds of data.yml, seconds of its copy task and of kargo-data's container)."""
    run = run_playbook('playbooks/data.yml', dict(SETTINGS, kargo_datasets=datasets))
    if run.rc != 0:
        sys.exit('data.yml failed:\n%s' % run.explain())
    parts = {}
    for task, result in run.task_results():
        for label, words in (('copy', 'copy the files'), ('kargo-data', 'load the changed datasets')):
            if label == 'kargo-data' and words in task:
                parts['log'] = [line for line in result.get('stderr', '').splitlines() if 'kargo-data' in line]
            if words in task and 'delta' in result:
                hours, minutes, seconds = result['delta'].split(':')
                parts[label] = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            elif words in task and result.get('results'):
                parts[label] = sum(float(one.get('delta', '0:0:0').split(':')[-1]) for one in result['results'])
    return run.seconds, parts


# data.yml's tasks by what they publish (the first words found in a task's name), in order
PUBLISH_PHASES = (('load into PostGIS', ('load the changed datasets',)),
                  ('vector tiles (tippecanoe, TileServer GL)', ('kargo-data tiles', 'tileserver_gl')),
                  ('QGIS Server (its project, its deploy)', ('qgis_server',)),
                  ('MapProxy seeding', ('seed',)))


def task_seconds(one_task):
    """How long a task of the json callback's report ran."""
    duration = one_task['task'].get('duration') or {}
    if not duration.get('start') or not duration.get('end'):
        return 0.0
    moment = lambda text: datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')  # noqa: E731
    return (moment(duration['end']) - moment(duration['start'])).total_seconds()


def phases(run):
    """Seconds of data.yml's tasks per publish phase, and the rest."""
    found = dict((name, 0.0) for name, _words in PUBLISH_PHASES)
    found['the rest (Ansible, checks, waits)'] = run.seconds
    for one_play in run.report.get('plays', []):
        for one_task in one_play['tasks']:
            seconds, name = task_seconds(one_task), one_task['task']['name']
            for phase, words in PUBLISH_PHASES:
                if any(word in name for word in words):
                    found[phase] += seconds
                    found['the rest (Ansible, checks, waits)'] -= seconds
                    break
    return found


def publish_time(folder, count):
    """A new dataset of `count` polygons published by every map service, end to end."""
    settings = bench_stack.SETTINGS
    base = 'https://localhost:%d' % bench_stack.HTTPS_PORT
    write_polygons(os.path.join(folder, 'new.csv'), count)
    tools(folder, 'ogr2ogr', '-f', 'GPKG', 'new.gpkg', 'new.csv', '-nln', 'new', '-a_srs', 'EPSG:3857',
          '-oo', 'GEOM_POSSIBLE_NAMES=wkt', '-oo', 'KEEP_GEOM_COLUMNS=NO')
    bench_stack.remove(settings, True)
    try:
        deployed = run_playbook('site.yml', settings)
        if deployed.rc != 0:
            sys.exit('site.yml failed:\n%s' % deployed.explain())
        started = time.monotonic()
        run = run_playbook('playbooks/data.yml', dict(settings, kargo_datasets=[
            {'name': 'parcels', 'path': os.path.join(folder, 'new.gpkg')}]))
        if run.rc != 0:
            sys.exit('data.yml failed:\n%s' % run.explain())
        # the polygons are in x, y 0-4,000 km of EPSG:3857: around lon 18, lat 18
        zoom = 6
        x, y = tile_xy(18.0, 18.0, zoom)
        for path in ('/mapproxy/wmts/parcels/webmercator/%d/%d/%d.png' % (zoom, x, y),
                     '/tiles/data/parcels/%d/%d/%d.pbf' % (zoom, x, y)):
            while get(base, path).status_code != 200:
                if time.monotonic() - started > 900:
                    sys.exit('%s did not answer in 15 minutes' % path)
                time.sleep(0.5)
        served = time.monotonic() - started
        size = os.path.getsize(os.path.join(folder, 'new.gpkg')) / 1e6
        print('\npublish a new dataset (%d polygons, %.0f MB GeoPackage) on a stack of every map service:'
              % (count, size))
        print('  until its WMTS tile and its vector tile answer through the proxy: %.1f s (data.yml %.1f s)'
              % (served, run.seconds))
        for phase, seconds in phases(run).items():
            print('    %-40s %6.1f s' % (phase, seconds))
    finally:
        bench_stack.remove(settings, True)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    folder = tempfile.mkdtemp(prefix='kargo-bench-data-')
    os.chmod(folder, 0o755)
    try:
        run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
        deployed = run_playbook('site.yml', SETTINGS)
        if deployed.rc != 0:
            sys.exit('site.yml failed:\n%s' % deployed.explain())
        points, polygons = int(POINTS * scale), int(POLYGONS * scale)
        write_points(os.path.join(folder, 'points.csv'), points)
        write_polygons(os.path.join(folder, 'parcels.csv'), polygons)
        tools(folder, 'ogr2ogr', '-f', 'GPKG', 'points.gpkg', 'points.csv', '-nln', 'points', '-a_srs', 'EPSG:4326',
              '-oo', 'X_POSSIBLE_NAMES=x', '-oo', 'Y_POSSIBLE_NAMES=y', '-oo', 'KEEP_GEOM_COLUMNS=NO')
        tools(folder, 'ogr2ogr', '-f', 'GPKG', 'parcels.gpkg', 'parcels.csv', '-nln', 'parcels', '-a_srs', 'EPSG:3857',
              '-oo', 'GEOM_POSSIBLE_NAMES=wkt', '-oo', 'KEEP_GEOM_COLUMNS=NO')
        sizes = dict((name, os.path.getsize(os.path.join(folder, name)) / 1e6) for name in ('points.gpkg', 'parcels.gpkg'))
        print('datasets load: %d points (%.0f MB GeoPackage), %d polygons (%.0f MB), wall-clock seconds'
              % (points, sizes['points.gpkg'], polygons, sizes['parcels.gpkg']))
        print('%-34s %9s %9s %7s' % ('', 'plain', 'kargo', 'ratio'))
        for name, table, srs in (('points.gpkg', 'points', 'EPSG:4326'), ('parcels.gpkg', 'parcels', 'EPSG:3857')):
            with open(os.path.join(folder, name), 'rb') as handle:  # in the page cache for both
                while handle.read(1 << 24):
                    pass
            plain = plain_load(folder, name, 'plain_' + table, srs)
            kargo, parts = kargo_load([{'name': table, 'path': os.path.join(folder, name)}])
            print('%-34s %9.1f %9.1f %6.2fx   (kargo-data %.1f s)' % ('load ' + name, plain, kargo, kargo / plain,
                                                                  parts.get('kargo-data', 0)))
            for line in parts.get('log', []):
                print('      ' + line)
        unchanged, _parts = kargo_load([{'name': table, 'path': os.path.join(folder, name)}
                                for name, table in (('points.gpkg', 'points'), ('parcels.gpkg', 'parcels'))])
        print('%-34s %9s %9.1f' % ('data.yml again, nothing changed', '', unchanged))
        run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
        publish_time(folder, polygons // 10)
    finally:
        run_playbook('playbooks/remove.yml', dict(SETTINGS, kargo_remove_volumes=True))
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(ROOT_DIR, ignore_errors=True)


if __name__ == '__main__':
    main()
