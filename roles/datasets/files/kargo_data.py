#!/usr/bin/env python3
"""kargo-data: the user's datasets (kargo_datasets): vector ones loaded into the stack's
PostGIS, raster ones made Cloud-Optimized GeoTIFFs for QGIS Server.

It runs in a container of the tools image (GDAL's ogr2ogr, ogrinfo, gdalinfo,
gdal_translate and gdalwarp, psql) on the database's network; the datasets' files are in
/data/<name>/, the rasters' COGs in /rasters/ (mounted read-write by load). PGHOST, PGPORT, PGUSER and
PGDATABASE name the database, PGPASSWORD_FILE the file holding the password (a secret: it
never reaches a command line or a log). What to do comes as JSON on stdin:

  {"schema": "kargo_data", "datasets": [{"name", "state", "kind", "source", "layer",
   "srs", "sha256", "cog"}, ...]}    (the dataset_sources module's descriptions)

  kargo-data plan   what a load would do (read only: check mode)
  kargo-data tiles  the vector tiles of each loaded present dataset, /tiles/<name>.mbtiles
      [--plan]      (tippecanoe, from the table exported by ogr2ogr), built when missing or
                    when its record in /tiles/<name>.mbtiles.build (the dataset's sha256 and
                    the zoom levels: spec "tiles": {"min_zoom", "max_zoom"}) differs; into a
                    temporary file renamed when complete. --plan only says which
  kargo-data load   each present dataset whose sha256 differs from the one recorded at
                    its last load (or whose table is gone) is checked with ogrinfo (every
                    one first: a bad file stops the run before anything is loaded), loaded
                    with ogr2ogr into <schema>_staging, its geometries made one type
                    (single ones promoted to multi where the layer mixes them), then
                    swapped in for <schema>.<name> in one transaction with its record in
                    <schema>_state.datasets; an entry with state absent has its table
                    dropped. Each present raster without its COG (/rasters/<cog>, named
                    after its sha256) is checked with gdalinfo (with the vector ones,
                    before anything is loaded), then made one by gdal_translate (gdalwarp
                    when srs reprojects it) into a temporary file renamed when complete

Each command prints one JSON object on stdout: {changed, loaded, dropped, converted,
unchanged, layers} (layers: each present dataset's table, geometry type, SRID, extent in
EPSG:4326 and row count, or its raster's COG, SRID, extent and bands, as QGIS Server's
project needs them), or {"failed": true, "msg": ...}.
Progress goes to stderr. Standard library only.
"""
import json
import os
import subprocess
import sys
import time

# Open options GDAL's CSV driver needs to find the geometry: a WKT column, or x/y ones.
CSV_OPEN_OPTIONS = ['GEOM_POSSIBLE_NAMES=wkt,geom,geometry,the_geom', 'X_POSSIBLE_NAMES=x,lon,lng,longitude',
                    'Y_POSSIBLE_NAMES=y,lat,latitude', 'KEEP_GEOM_COLUMNS=NO', 'AUTODETECT_TYPE=YES']
# files whose layers declare one geometry type that every feature has
STRICTLY_TYPED = ('.gpkg', '.fgb')
# the SRS of a file that names none (a CSV), unless the entry's srs names it
DEFAULT_SRS = 'EPSG:4326'
STATE_COLUMNS = ('name', 'sha256', 'loaded_at', 'geometry_type', 'srid', 'west', 'south', 'east', 'north', 'row_count')
QGIS_GEOMETRY = {'POINT': 'Point', 'LINESTRING': 'Line', 'POLYGON': 'Polygon'}
RASTERS = '/rasters'
# COG options: deflate keeps every pixel as it is (a DEM, a classification)
COG_OPTIONS = ['-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'BIGTIFF=IF_SAFER']
QGIS_WKB = {'POINT': 'Point', 'LINESTRING': 'LineString', 'POLYGON': 'Polygon',
            'MULTIPOINT': 'MultiPoint', 'MULTILINESTRING': 'MultiLineString', 'MULTIPOLYGON': 'MultiPolygon'}


class Refused(Exception):
    pass


def log(message):
    sys.stderr.write('[kargo-data %s] %s\n' % (time.strftime('%H:%M:%S'), message))
    sys.stderr.flush()


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def quote_literal(text):
    return "'%s'" % str(text).replace("'", "''")


def names(schema):
    """The schemas of the tables, of the loads under way and of the records."""
    return {'tables': schema, 'staging': schema + '_staging', 'state': schema + '_state'}


def plan_changes(wanted, recorded, tables):
    """What a load does: {load, drop, unchanged} (names, in the entries' order).
    `recorded` maps a name to its record, `tables` is the names of the tables there."""
    load, drop, unchanged = [], [], []
    for dataset in wanted:
        name = dataset['name']
        if dataset['state'] == 'absent':
            if name in recorded or name in tables:
                drop.append(name)
        elif name not in tables or recorded.get(name, {}).get('sha256') != dataset['sha256']:
            load.append(name)
        else:
            unchanged.append(name)
    return {'load': load, 'drop': drop, 'unchanged': unchanged}


def family_of(kind):
    """POINT of POINT and MULTIPOINT, and so on."""
    return kind[5:] if kind.startswith('MULTI') else kind


def geometry_target(kinds):
    """(the column's geometry type, whether single geometries are promoted to multi), from
    the kinds of geometry a layer holds (PostGIS GeometryType names)."""
    kinds = set(kinds)
    if not kinds:
        raise Refused('holds no geometry to publish')
    families = set(family_of(kind) for kind in kinds)
    if len(families) > 1 or not families <= set(QGIS_GEOMETRY):
        raise Refused('mixes geometry kinds (%s): give each kind a dataset of its own' % ', '.join(sorted(kinds)))
    family = families.pop()
    if kinds == {family}:
        return family, False
    return 'MULTI' + family, len(kinds) > 1


def srs_options(layer_has_srs, srs):
    """ogr2ogr's SRS options: reproject to `srs`, or assign it (or EPSG:4326) to a layer
    that names none."""
    if layer_has_srs:
        return ['-t_srs', srs] if srs else []
    return ['-a_srs', srs or DEFAULT_SRS]


def open_option_args(source):
    """-oo arguments of ogrinfo and ogr2ogr for the file (a CSV's geometry columns)."""
    options = CSV_OPEN_OPTIONS if source.lower().endswith('.csv') else []
    return [word for option in options for word in ('-oo', option)]


def declared_type(source, field):
    """The PostGIS geometry type a strictly typed file (GeoPackage, FlatGeobuf) declares for
    its layer (ogrinfo -json's geometry field), when it is one kargo publishes: loaded as
    that type at once. None for the others (a Shapefile's Polygon may hold multipolygons,
    GeoJSON and CSV declare nothing): loaded as generic geometry, then made one type."""
    if not source.lower().endswith(STRICTLY_TYPED):
        return None
    name = str(field.get('type', '')).upper().replace('3D', '').replace(' ', '')
    for suffix in ('ZM', 'Z', 'M'):
        if name.endswith(suffix) and name[:-len(suffix)] in QGIS_WKB:
            name = name[:-len(suffix)]
    return name if name in QGIS_WKB else None


def ogr2ogr_argv(dataset, staging, layer_has_srs, geometry_type=None):
    argv = ['ogr2ogr', '-f', 'PostgreSQL', 'PG:', dataset['source']]
    if dataset.get('layer'):
        argv.append(dataset['layer'])
    argv += open_option_args(dataset['source']) + ['-nln', dataset['name'], '-lco', 'SCHEMA=' + staging, '-lco', 'GEOMETRY_NAME=geom', '-lco', 'FID=fid',
             '-lco', 'SPATIAL_INDEX=GIST', '-lco', 'OVERWRITE=YES', '-lco', 'LAUNDER=NO',
             '-nlt', geometry_type or 'GEOMETRY', '-dim', 'XY', '--config', 'PG_USE_COPY', 'YES']
    return argv + srs_options(layer_has_srs, dataset.get('srs'))


def tiles_stamp(dataset, tiles):
    """What a dataset's MBTiles is built from: its data (the entry's sha256, which its
    table's record has once loaded), and the zoom levels."""
    return json.dumps({'sha256': dataset['sha256'], 'min_zoom': int(tiles['min_zoom']),
                       'max_zoom': int(tiles['max_zoom'])}, sort_keys=True)


def tippecanoe_argv(name, path, tiles):
    return ['tippecanoe', '--output', path, '--force', '--quiet', '--layer', name, '--name', name,
            '--minimum-zoom', str(int(tiles['min_zoom'])), '--maximum-zoom', str(int(tiles['max_zoom'])),
            '--drop-densest-as-needed', '--no-tile-size-limit']


def layer_description(record, title=None):
    """What QGIS Server's project needs of a loaded dataset."""
    geometry_type = record['geometry_type']
    extent = [record[key] for key in ('west', 'south', 'east', 'north')]
    return {'name': record['name'], 'kind': 'vector', 'title': title or record['name'], 'geometry_type': geometry_type,
            'srid': record['srid'], 'extent': extent if None not in extent else [-180.0, -90.0, 180.0, 90.0],
            'proj4': (record.get('proj4') or '').strip(), 'row_count': record['row_count'], 'loaded_at': record['loaded_at'],
            'sha256': record['sha256'],
            'qgis_geometry': QGIS_GEOMETRY[family_of(geometry_type)], 'qgis_wkb_type': QGIS_WKB[geometry_type]}


def layer_checks(info, dataset):
    """Why the file cannot be loaded as the entry asks (ogrinfo -json's answer), or None;
    and the geometry field of its layer."""
    layers = info.get('layers') or []
    if dataset.get('layer'):
        chosen = [layer for layer in layers if layer.get('name') == dataset['layer']]
        if not chosen:
            return 'has no layer %s (its layers: %s)' % (dataset['layer'], ', '.join(l.get('name', '?') for l in layers)), {}
    elif len(layers) != 1:
        return ('has %d layers (%s): name one with layer' % (len(layers), ', '.join(l.get('name', '?') for l in layers))
                if layers else 'has no vector layer'), {}
    else:
        chosen = layers
    fields = chosen[0].get('geometryFields') or []
    if not fields:
        return 'layer %s has no geometry' % chosen[0].get('name'), {}
    return None, fields[0]


def raster_checks(info, dataset):
    """Why the raster cannot be published as the entry asks (gdalinfo -json's answer), or
    None; and whether it names its SRS."""
    if not info.get('bands'):
        return 'has no raster band', False
    has_srs = bool((info.get('coordinateSystem') or {}).get('wkt'))
    if not has_srs and not dataset.get('srs'):
        return 'names no SRS: give the entry an srs (the SRS its coordinates are in)', False
    return None, has_srs


def cog_argv(dataset, has_srs, target):
    """gdal_translate to a COG; gdalwarp when the entry's srs reprojects a raster that names
    its own SRS (one that names none is given it: -a_srs)."""
    srs = dataset.get('srs')
    if srs and has_srs:
        return ['gdalwarp', '-q', '-overwrite', '-t_srs', srs, '-r', 'near'] + COG_OPTIONS + [dataset['source'], target]
    return ['gdal_translate', '-q'] + (['-a_srs', srs] if srs else []) + COG_OPTIONS + [dataset['source'], target]


def wgs84_bounds(info):
    """[west, south, east, north] of gdalinfo -json's wgs84Extent polygon."""
    ring = info['wgs84Extent']['coordinates'][0]
    xs, ys = [point[0] for point in ring], [point[1] for point in ring]
    return [min(xs), min(ys), max(xs), max(ys)]


def raster_description(info, dataset):
    """What QGIS Server's project needs of a raster (gdalinfo -json -proj4 of its COG, or of
    its file in check mode: the COG it becomes has the same bounds)."""
    system = info.get('coordinateSystem') or {}
    return {'name': dataset['name'], 'kind': 'raster', 'title': dataset.get('title') or dataset['name'],
            'cog': dataset['cog'], 'sha256': dataset['sha256'], 'extent': wgs84_bounds(info),
            'srid': int((info.get('stac') or {}).get('proj:epsg') or 0), 'proj4': (system.get('proj4') or '').strip(),
            'bands': len(info.get('bands') or []), 'size': info.get('size')}


def gdalinfo(path):
    """gdalinfo -json -proj4 of a raster; Refused saying why GDAL cannot open it."""
    done = subprocess.run(['gdalinfo', '-json', '-proj4', path], capture_output=True, text=True)
    if done.returncode != 0:
        raise Refused('GDAL cannot open it (%s)' % (done.stderr.strip().splitlines() or ['no message'])[-1])
    return json.loads(done.stdout)


def check_raster(dataset):
    """gdalinfo opens it, it has bands and an SRS (its own or the entry's, one GDAL knows).
    Returns whether it names its own SRS; Refused saying why not."""
    problem, has_srs = raster_checks(gdalinfo(dataset['source']), dataset)
    if problem:
        raise Refused(problem)
    check_srs(dataset)
    return has_srs


def check_srs(dataset):
    if dataset.get('srs'):
        known = subprocess.run(['gdalsrsinfo', '-o', 'epsg', dataset['srs']], capture_output=True, text=True)
        if known.returncode != 0:
            raise Refused('srs %s is not an SRS GDAL knows' % dataset['srs'])


def convert_raster(dataset, has_srs, folder):
    """Its COG, written to a temporary file renamed when complete."""
    started, final = time.monotonic(), os.path.join(folder, dataset['cog'])
    temporary = os.path.join(folder, '.tmp-' + dataset['cog'])
    done = subprocess.run(cog_argv(dataset, has_srs, temporary), capture_output=True, text=True)
    if done.returncode != 0:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise Refused('its COG could not be made: %s' % (done.stderr or done.stdout).strip()[-1500:])
    os.chmod(temporary, 0o644)
    os.replace(temporary, final)
    log('%s: raster made a COG (%s) in %.1f s' % (dataset['name'], dataset['cog'], time.monotonic() - started))


def raster_layers(rasters, folder, plan_only):
    """{name: description} of each present raster's COG; in check mode, of the file a
    missing COG would be made from (when GDAL opens it)."""
    layers = {}
    for dataset in rasters:
        path = os.path.join(folder, dataset['cog'])
        try:
            if os.path.exists(path):
                layers[dataset['name']] = raster_description(gdalinfo(path), dataset)
            elif plan_only:
                layers[dataset['name']] = raster_description(gdalinfo(dataset['source']), dataset)
        except (Refused, KeyError, IndexError):
            continue
    return layers


class Database(object):
    """The stack's database, through psql."""

    def __init__(self, environ):
        self.env = dict(environ)
        password_file = self.env.pop('PGPASSWORD_FILE', None)
        if password_file:
            with open(password_file) as handle:
                self.env['PGPASSWORD'] = handle.read().strip()
        self.env.setdefault('PGCONNECT_TIMEOUT', '10')

    def run(self, argv, what):
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise Refused('%s failed: %s' % (what, (done.stderr or done.stdout).strip()[-1500:]))
        return done.stdout

    def sql(self, statement):
        return self.run(['psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-c', statement],
                        'psql')

    def json(self, query):
        return json.loads(self.sql(query))


def read_state(db, schemas):
    """(records by name, names of the tables in the schema)."""
    state = db.json("SELECT json_build_object('recorded', to_regclass(%s) IS NOT NULL, "
                    "'tables', ARRAY(SELECT tablename FROM pg_tables WHERE schemaname = %s))"
                    % (quote_literal(quote_ident(schemas['state']) + '.datasets'), quote_literal(schemas['tables'])))
    # with the PROJ string of the SRID: QGIS takes a layer's CRS from it (an authid alone is not enough)
    records = db.json("SELECT coalesce(json_agg(r), '[]') FROM (SELECT d.*, s.proj4text AS proj4 FROM %s.datasets d "
                      "LEFT JOIN spatial_ref_sys s USING (srid)) r" % quote_ident(schemas['state'])) \
        if state['recorded'] else []
    return dict((record['name'], record) for record in records), set(state['tables'])


def check_source(dataset):
    """ogrinfo opens the file and the layer; the srs is one GDAL knows. Returns (whether
    the layer names an SRS, the geometry type it declares or None); Refused saying why not."""
    argv = ['ogrinfo', '-json', '-ro', '-so'] + open_option_args(dataset['source']) + [dataset['source']]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise Refused('GDAL cannot open it (%s)' % (done.stderr.strip().splitlines() or ['no message'])[-1])
    problem, field = layer_checks(json.loads(done.stdout), dataset)
    if problem:
        raise Refused(problem)
    check_srs(dataset)
    return bool(field.get('coordinateSystem')), declared_type(dataset['source'], field)


def load_one(db, dataset, schemas, source):
    """`source`: (whether the layer names an SRS, the geometry type it declares or None)."""
    (has_srs, declared), name, staging = source, dataset['name'], schemas['staging']
    table = '%s.%s' % (quote_ident(staging), quote_ident(name))
    started = time.monotonic()
    db.sql('CREATE SCHEMA IF NOT EXISTS %s; DROP TABLE IF EXISTS %s' % (quote_ident(staging), table))
    try:
        db.run(ogr2ogr_argv(dataset, staging, has_srs, declared), 'ogr2ogr')
    except Refused:
        if not declared:
            raise
        # a feature of another type than the file declares: loaded as generic geometry
        log('%s: not every feature is a %s: loading it as generic geometry' % (name, declared))
        declared = None
        db.run(ogr2ogr_argv(dataset, staging, has_srs), 'ogr2ogr')
    try:
        # the kinds of geometry it holds: only read (a scan) when the file declares none
        found = db.json("SELECT json_build_object('kinds', %s, "
                        "'srid', (SELECT srid FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s))"
                        % ("ARRAY[%s]" % quote_literal(declared) if declared else
                           'ARRAY(SELECT DISTINCT GeometryType(geom) FROM %s WHERE geom IS NOT NULL)' % table,
                           quote_literal(staging), quote_literal(name)))
        geometry_type, promote = geometry_target(found['kinds'])
        srid = int(found['srid'] or 0)
        if not declared:  # the generic column made one type (a rewrite of the table)
            db.sql('ALTER TABLE %s ALTER COLUMN geom TYPE geometry(%s, %d) USING %s'
                   % (table, QGIS_WKB[geometry_type], srid, 'ST_Multi(geom)' if promote else 'geom'))
        db.sql('ANALYZE %s' % table)
        # extent and row count in one scan
        extent = db.json("SELECT json_build_object('west', ST_XMin(b), 'south', ST_YMin(b), 'east', ST_XMax(b), 'north', ST_YMax(b), "
                         "'row_count', n) FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, %d), 4326) AS b, "
                         "count(*) AS n FROM %s) AS e" % (srid, table))
        record = dict(extent, name=name, sha256=dataset['sha256'], geometry_type=geometry_type, srid=srid)
        db.sql(swap_sql(schemas, record))
    except Refused:
        db.sql('DROP TABLE IF EXISTS %s' % table)
        raise
    log('%s: %d rows loaded into %s.%s (%s, SRID %d) in %.1f s' % (
        name, record['row_count'], schemas['tables'], name, geometry_type, srid, time.monotonic() - started))


def swap_sql(schemas, record):
    """One transaction: the loaded table replaces the served one, and its record is written."""
    state = quote_ident(schemas['state']) + '.datasets'
    values = [quote_literal(record['name']), quote_literal(record['sha256']), 'now()', quote_literal(record['geometry_type']),
              str(int(record['srid']))] + ['NULL' if record[key] is None else repr(float(record[key]))
                                           for key in ('west', 'south', 'east', 'north')] + [str(int(record['row_count']))]
    return '\n'.join([
        'BEGIN;',
        'DROP TABLE IF EXISTS %s.%s;' % (quote_ident(schemas['tables']), quote_ident(record['name'])),
        'ALTER TABLE %s.%s SET SCHEMA %s;' % (quote_ident(schemas['staging']), quote_ident(record['name']),
                                              quote_ident(schemas['tables'])),
        'INSERT INTO %s (%s) VALUES (%s)' % (state, ', '.join(STATE_COLUMNS), ', '.join(values)),
        '  ON CONFLICT (name) DO UPDATE SET %s;' % ', '.join('%s = EXCLUDED.%s' % (c, c) for c in STATE_COLUMNS[1:]),
        'COMMIT;'])


def prepare(db, schemas):
    db.sql('CREATE SCHEMA IF NOT EXISTS %s; CREATE SCHEMA IF NOT EXISTS %s; CREATE TABLE IF NOT EXISTS %s.datasets ('
           'name text PRIMARY KEY, sha256 text NOT NULL, loaded_at timestamptz NOT NULL, geometry_type text NOT NULL, '
           'srid integer NOT NULL, west double precision, south double precision, east double precision, '
           'north double precision, row_count bigint NOT NULL)'
           % (quote_ident(schemas['tables']), quote_ident(schemas['state']), quote_ident(schemas['state'])))


def drop_one(db, schemas, name):
    db.sql('BEGIN; DROP TABLE IF EXISTS %s.%s; DELETE FROM %s.datasets WHERE name = %s; COMMIT;' % (
        quote_ident(schemas['tables']), quote_ident(name), quote_ident(schemas['state']), quote_literal(name)))
    log('%s: table %s.%s dropped (state absent)' % (name, schemas['tables'], name))


def present_layers(wanted, records, tables, rasters=None):
    """The layers of the present datasets that have a table (a dataset to reload keeps its
    layer: check mode plans no change of the projects for it) or a raster (`rasters`:
    {name: description}), in the entries' order."""
    rasters = rasters or {}
    return [rasters[d['name']] if d['name'] in rasters else layer_description(records[d['name']], d.get('title'))
            for d in wanted if d['state'] == 'present' and (d['name'] in rasters or (
                d.get('kind', 'vector') == 'vector' and d['name'] in records and d['name'] in tables))]


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def build_tiles(db, schemas, name, path, tiles):
    """The table exported as GeoJSON lines (EPSG:4326) piped into tippecanoe."""
    started = time.monotonic()
    export = subprocess.Popen(['ogr2ogr', '-f', 'GeoJSONSeq', '/vsistdout/', 'PG:', '-sql', 'SELECT * FROM %s.%s' % (
        quote_ident(schemas['tables']), quote_ident(name)), '-t_srs', 'EPSG:4326', '-lco', 'RS=NO'],
        env=db.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    built = subprocess.run(tippecanoe_argv(name, path, tiles), stdin=export.stdout, capture_output=True, text=True)
    export.stdout.close()
    exported = export.wait()
    if exported != 0 or built.returncode != 0:
        raise Refused('%s: its vector tiles could not be built: %s' % (
            name, (export.stderr.read().decode('utf-8', 'replace') + built.stderr).strip()[-1500:]))
    log('%s: vector tiles (zoom %s-%s) built in %.1f s' % (name, tiles['min_zoom'], tiles['max_zoom'], time.monotonic() - started))


def run_tiles(spec, db, plan_only, folder='/tiles'):
    """The MBTiles to build: each present dataset's whose record differs from what it is
    made from now (the entry's sha256, which its table has after the load; with --plan,
    before it: check mode sees the builds a reload brings)."""
    schemas, tiles = names(spec['schema']), spec['tiles']
    records, tables = read_state(db, schemas)
    due = []
    for dataset in spec['datasets']:
        name = dataset['name']
        loaded = name in records and name in tables
        if dataset['state'] != 'present' or dataset.get('kind', 'vector') != 'vector' or not (loaded or plan_only):
            continue
        final = os.path.join(folder, name + '.mbtiles')
        if not os.path.exists(final) or read_text(final + '.build') != tiles_stamp(dataset, tiles):
            due.append(dataset)
    if not plan_only:
        for dataset in due:
            final = os.path.join(folder, dataset['name'] + '.mbtiles')
            temporary = os.path.join(folder, '.tmp-%s.mbtiles' % dataset['name'])
            build_tiles(db, schemas, dataset['name'], temporary, tiles)
            os.chmod(temporary, 0o644)
            os.replace(temporary, final)
            with open(final + '.build', 'w') as handle:
                handle.write(tiles_stamp(dataset, tiles) + '\n')
    built = [dataset['name'] for dataset in due]
    return {'changed': bool(built), 'built': built}


def run(command, spec, db, folder=RASTERS):
    schemas, wanted = names(spec['schema']), spec['datasets']
    vectors = [d for d in wanted if d.get('kind', 'vector') == 'vector']
    rasters = [d for d in wanted if d.get('kind') == 'raster' and d['state'] == 'present']
    records, tables = read_state(db, schemas)
    plan = dict(plan_changes(vectors, records, tables),
                convert=[d['name'] for d in rasters if not os.path.exists(os.path.join(folder, d['cog']))])
    result = dict(plan, changed=bool(plan['load'] or plan['drop'] or plan['convert']), loaded=[], dropped=[],
                  converted=[])
    if command == 'plan' or not result['changed']:
        result['layers'] = present_layers(wanted, records, tables, raster_layers(rasters, folder, command == 'plan'))
        return result
    by_name = dict((d['name'], d) for d in wanted)
    problems, sources = [], {}
    for name in plan['load'] + plan['convert']:
        try:
            check = check_raster if by_name[name].get('kind') == 'raster' else check_source
            sources[name] = check(by_name[name])
        except Refused as why:
            problems.append('%s: %s' % (name, why))
    if problems:
        raise Refused('; '.join(problems))
    for name in plan['convert']:
        try:
            convert_raster(by_name[name], sources[name], folder)
        except Refused as why:
            raise Refused('%s: %s (made before it: %s)' % (name, why, ', '.join(result['converted']) or 'none'))
        result['converted'].append(name)
    prepare(db, schemas)
    for name in plan['load']:
        try:
            load_one(db, by_name[name], schemas, sources[name])
        except Refused as why:
            raise Refused('%s: %s (loaded before it: %s)' % (name, why, ', '.join(result['loaded']) or 'none'))
        result['loaded'].append(name)
    for name in plan['drop']:
        drop_one(db, schemas, name)
        result['dropped'].append(name)
    records, tables = read_state(db, schemas)
    result['layers'] = present_layers(wanted, records, tables, raster_layers(rasters, folder, False))
    return result


def main(argv):
    if argv[1:] not in (['plan'], ['load'], ['tiles'], ['tiles', '--plan']):
        sys.stderr.write('usage: kargo-data plan|load|tiles [--plan] < spec.json\n')
        return 2
    try:
        spec, db = json.load(sys.stdin), Database(os.environ)
        result = run_tiles(spec, db, len(argv) == 3) if argv[1] == 'tiles' else run(argv[1], spec, db)
    except Refused as why:
        print(json.dumps({'failed': True, 'msg': str(why)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
