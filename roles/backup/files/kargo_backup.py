#!/usr/bin/env python3
"""kargo-backup: logical backups of the stack's PostgreSQL/PostGIS server, and their
verified restore.

It runs in a container of the stack's PostGIS image, so pg_dump, pg_restore and psql are
the server's own binaries (client and server versions always match), on the database's
network. Its environment: PGHOST, PGPORT and PGUSER name the server and the stack's
superuser; PGPASSWORD_FILE the file holding the password (a secret: it never reaches a
command line or a log). --root is the folder of the backups (kargo_backup_root, bind
mounted).

  kargo-backup backup                      a backup now, in <root>/<UTC time>/:
                                           globals.sql (roles), <db>.dump per database
                                           (pg_dump -Fc), manifest.json
  kargo-backup restore [--from NAME]       the newest verified backup (or NAME), checked,
                                           restored into new databases, compared with its
                                           manifest, then swapped in; the old database is
                                           kept as <db>_before_<UTC time>
  kargo-backup list                        the backups and the status file
  kargo-backup backup|restore              also the files of DIR (those whose path under
      --files NAME=DIR[:GLOB] ...          it matches GLOB), as files-NAME.tar beside the
                                           dumps, owners and modes kept; a restore puts
                                           them back in DIR (the matching files that are
                                           there go) after the databases
  kargo-backup backup --pitr ...           also a pgBackRest backup (full, or differential
                                           when the last full is recent), check and verify
  kargo-backup pitr-init                   pgBackRest's stanza, when it has none yet
  kargo-backup wait-writable               waits until the server takes writes (after a
      [--ready-timeout S]                  point-in-time restore: it replays WAL first)
  kargo-backup pitr-check --time T         can the database be restored to T? (archives
                                           the current WAL first; refuses T before the
                                           oldest pgBackRest backup or in the future)
  kargo-backup pitr-restore --time T       pgBackRest restore to T into the (stopped)
                                           database's data directory
  kargo-backup schedule --schedule CRON    runs for ever: a backup at each time the cron
      [--keep-daily N --keep-weekly N      expression (UTC) allows, then retention; what
       --keep-monthly N] [--check]         each run did goes to stdout (docker logs) and
                                           the status file. --check only checks the
                                           settings and prints the next run

Each command prints one JSON object on stdout: what it did, or {"failed": true, "msg":
...}. Progress goes to stderr. Standard library only (the image has python3, nothing else).

It runs as root, for the file sets (their files belong to other services' users); the
PostgreSQL programs run as the database's uid (POSTGRES_UID), and what it writes into the
backup root is given to that uid.
"""
import argparse
import concurrent.futures
import contextlib
import datetime
import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

MANIFEST = 'manifest.json'
STATUS = 'status.json'
LOCK = '.lock'
STATUS_LOCK = '.status.lock'
PARTIAL = '.partial'
GLOBALS = 'globals.sql'
# folder names: the UTC time the backup started, sortable as text
NAME_FORMAT = '%Y%m%dT%H%M%SZ'
NAME_PATTERN = re.compile(r'^[0-9]{8}T[0-9]{6}Z$')
RESTORING_SUFFIX = '_kargo_restoring'
MAX_IDENTIFIER = 63
# the postgres user of the PostGIS image (the backup role's backup_uid)
POSTGRES_UID = 999
FILE_SET_PATTERN = re.compile(r'^([a-z][a-z0-9_]*)=(/[^:]*)(?::(.+))?$')


class Refused(Exception):
    """A command that cannot be done, with the reason a user reads."""


class Stopped(BaseException):
    """SIGTERM (docker stop): the scheduler ends, a backup under way is dropped."""


def log(message):
    sys.stderr.write('[kargo-backup] %s\n' % message)
    sys.stderr.flush()


class Timings(object):
    """Seconds spent per phase of a command (printed in its log, returned in its result)."""

    def __init__(self):
        self.seconds = {}

    @contextlib.contextmanager
    def phase(self, name):
        started = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - started
            self.seconds[name] = round(self.seconds.get(name, 0) + spent, 2)
            log('%s: %.1f s' % (name, spent))


def utc_name(now=None):
    return (now or datetime.datetime.now(datetime.timezone.utc)).strftime(NAME_FORMAT)


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def quote_literal(text):
    return "'%s'" % text.replace("'", "''")


def dump_file_name(database):
    """The dump's file name: the database's name when it is a safe file name."""
    if re.match(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$', database):
        return database + '.dump'
    return 'db-%s.dump' % hashlib.sha256(database.encode()).hexdigest()[:16]


def kept_name(database, stamp):
    """<db>_before_<stamp>, the database's name shortened to fit PostgreSQL's 63 bytes."""
    suffix = '_before_' + stamp
    return database.encode()[:MAX_IDENTIFIER - len(suffix)].decode(errors='ignore') + suffix


def restoring_name(database):
    return database.encode()[:MAX_IDENTIFIER - len(RESTORING_SUFFIX)].decode(errors='ignore') + RESTORING_SUFFIX


def major_version(version_num):
    """170007 -> 17 (PostgreSQL 10 and later)."""
    return int(version_num) // 10000


# --- the queries ---------------------------------------------------------------------

SERVER_QUERY = """
SELECT json_build_object(
  'version_num', current_setting('server_version_num')::int,
  'version', version(),
  'databases', (SELECT json_agg(json_build_object(
                   'name', d.datname, 'owner', pg_get_userbyid(d.datdba),
                   'encoding', pg_encoding_to_char(d.encoding),
                   'collate', d.datcollate, 'ctype', d.datctype) ORDER BY d.datname)
                FROM pg_database d
                WHERE NOT d.datistemplate AND d.datallowconn AND d.datname <> 'postgres'))
"""

# The user tables of a database (partitioned tables as one, extension tables aside):
# each with its primary key columns and its geometry/geography columns.
TABLES_QUERY = r"""
SELECT coalesce(json_agg(json_build_object(
  'schema', n.nspname, 'table', c.relname, 'partitioned', c.relkind = 'p',
  'key', (SELECT json_agg(a.attname ORDER BY k.ord)
          FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = c.oid AND i.indisprimary),
  'geometry', (SELECT json_agg(a.attname ORDER BY a.attnum)
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 AND t.typname IN ('geometry', 'geography')))
  ORDER BY n.nspname, c.relname), '[]')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""

EXTENSIONS_QUERY = "SELECT coalesce(json_object_agg(extname, extversion ORDER BY extname), '{}') FROM pg_extension"


# Manifest format 2 hashes a geometry column as the sha256 of what COPY's binary format
# streams of each row's key and EWKB, in key order: one pass, sorted by the server, no
# limit on the rows, and the key binds each geometry to its row. (Not in physical order:
# a restore's COPY may put a small row into an earlier page with room left, before bigger
# rows that came first in the dump.) Format 1 (older backups, still restored) joined an md5
# per geometry into one text value: three times slower, and over PostgreSQL's 1 GB value
# limit past about 32 M rows.
MANIFEST_FORMAT = 2
# for that sort (the server's default, 4 MB, sorts on disk)
HASH_SORT_MEMORY = '128MB'


def table_query(table):
    """Row count, and per geometry column its SRIDs: one scan, grouped by the SRIDs (few
    groups; array_agg(DISTINCT) over every row was four times slower)."""
    columns = table['geometry'] or []
    name = '%s.%s' % (quote_ident(table['schema']), quote_ident(table['table']))
    if not columns:
        return "SELECT json_build_object('rows', count(*), 'geometry', json_build_object()) FROM %s" % name
    srids = ', '.join('ST_SRID(%s) AS srid%d' % (quote_ident(column), number) for number, column in enumerate(columns))
    summaries = ', '.join("%s, json_build_object('srids', array_agg(DISTINCT srid%d) FILTER (WHERE srid%d IS NOT NULL))"
                          % (quote_literal(column), number, number) for number, column in enumerate(columns))
    return ("SELECT json_build_object('rows', coalesce(sum(row_count), 0)::bigint, 'geometry', json_build_object(%s)) "
            "FROM (SELECT %s, count(*) AS row_count FROM %s GROUP BY %s) AS srids"
            % (summaries, srids, name, ', '.join(str(number + 1) for number in range(len(columns)))))


def geometry_hash_copy(table, column):
    """Format 2: the COPY whose binary stream's sha256 is the column's hash: each row's key
    and EWKB in key order (without a key: the EWKB, in its own order). A partitioned table
    is read whole (its key is unique across partitions); any other without the rows of the
    tables inheriting from it (described on their own: their keys may repeat the parent's,
    and rows of equal keys come in no set order)."""
    ewkb = 'ST_AsEWKB(%s::geometry)' % quote_ident(column)
    keys = [quote_ident(key) for key in table['key'] or []]
    return 'COPY (SELECT %s FROM %s%s.%s ORDER BY %s) TO STDOUT (FORMAT binary)' % (
        ', '.join(keys + [ewkb]), '' if table.get('partitioned') else 'ONLY ',
        quote_ident(table['schema']), quote_ident(table['table']), ', '.join(keys or [ewkb]))


def geometry_hash_query_v1(table, column):
    """Format 1: md5 of the md5s of the geometries joined in key order (without a key, in
    the order of those md5s), as {"hash": ...} (null for an empty table)."""
    geometry_hash = 'coalesce(md5(ST_AsEWKB(%s::geometry)), %s)' % (quote_ident(column), quote_literal('-'))
    order = ', '.join(quote_ident(key) for key in table['key']) if table['key'] else geometry_hash
    return "SELECT json_build_object('hash', md5(string_agg(%s, ',' ORDER BY %s))) FROM %s.%s" % (
        geometry_hash, order, quote_ident(table['schema']), quote_ident(table['table']))


def table_summary(measured):
    """The measured values of a table as the manifest keeps them (SRIDs sorted, empty
    lists for empty tables)."""
    return {'rows': measured['rows'],
            'geometry': dict((column, {'srids': sorted(values['srids'] or []), 'hash': values['hash']})
                             for column, values in sorted(measured['geometry'].items()))}


# --- comparing and choosing ------------------------------------------------------------

def compare_databases(saved, restored):
    """What differs between a database as the manifest saved it and as it was restored:
    a list of sentences (empty when they match). Extensions are compared by name (a newer
    server may have newer versions of them)."""
    differences = []
    missing = sorted(set(saved['extensions']) - set(restored['extensions']))
    if missing:
        differences.append('extensions missing: %s' % ', '.join(missing))
    saved_tables, restored_tables = saved['tables'], restored['tables']
    for name in sorted(set(saved_tables) - set(restored_tables)):
        differences.append('table %s missing' % name)
    for name in sorted(set(restored_tables) - set(saved_tables)):
        differences.append('table %s not in the backup' % name)
    for name in sorted(set(saved_tables) & set(restored_tables)):
        was, now = saved_tables[name], restored_tables[name]
        if was['rows'] != now['rows']:
            differences.append('table %s: %d rows, %d saved' % (name, now['rows'], was['rows']))
        for column in sorted(set(was['geometry']) | set(now['geometry'])):
            if was['geometry'].get(column) != now['geometry'].get(column):
                differences.append('table %s: geometries of %s differ from the saved ones' % (name, column))
    return differences


def newest_verified(backups):
    """The name of the newest verified backup of {name: manifest}, or None."""
    verified = sorted(name for name, manifest in backups.items() if manifest and manifest.get('verified'))
    return verified[-1] if verified else None


def globals_for_restore(script, own_role):
    """pg_dumpall --globals-only output made safe to run on a server that has some of its
    roles: the stack's own superuser (own_role: its password is the inventory's) is left
    as it is, and each CREATE ROLE of a role that exists already is skipped (its ALTER
    ROLE still sets its attributes and password)."""
    own = {own_role, quote_ident(own_role)}
    kept = []
    for line in script.splitlines():
        created = re.match(r'^CREATE ROLE (.+);$', line)
        altered = re.match(r'^ALTER ROLE ("(?:[^"]|"")+"|\S+) ', line)
        if created and created.group(1) in own or altered and altered.group(1) in own:
            continue
        if created:
            line = ('DO $kargo$ BEGIN %s; EXCEPTION WHEN duplicate_object THEN NULL; END $kargo$;'
                    % line[:-1])
        kept.append(line)
    return '\n'.join(kept) + '\n'


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_problems(folder, manifest):
    """Files of a backup that are missing or whose sha256 or size is not the manifest's."""
    problems = []
    for file_name, expected in sorted(manifest['files'].items()):
        path = os.path.join(folder, file_name)
        if not os.path.isfile(path):
            problems.append('%s is missing' % file_name)
        elif os.path.getsize(path) != expected['bytes']:
            problems.append('%s has %d bytes, the manifest says %d (truncated or changed)'
                            % (file_name, os.path.getsize(path), expected['bytes']))
        elif sha256_of(path) != expected['sha256']:
            problems.append('the checksum of %s does not match the manifest (the file changed since the backup)'
                            % file_name)
    return problems


# --- who owns what ------------------------------------------------------------------------

def as_postgres():
    """subprocess arguments running a PostgreSQL program as the database's uid (when this
    program runs as root): its files are the database's, pgBackRest's repository too."""
    if os.getuid() != 0:
        return {}
    return {'user': POSTGRES_UID, 'group': POSTGRES_UID, 'extra_groups': []}


def give_to_postgres(path):
    if os.getuid() == 0:
        os.chown(path, POSTGRES_UID, POSTGRES_UID)


# --- talking to the server -------------------------------------------------------------

class Server(object):
    """The PostgreSQL server, through the image's own client programs."""

    def __init__(self, environ):
        self.user = environ.get('PGUSER', 'postgres')
        self.env = dict(environ)
        password_file = environ.get('PGPASSWORD_FILE')
        if password_file:
            with open(password_file) as handle:
                self.env['PGPASSWORD'] = handle.read().strip()
        self.env.pop('PGPASSWORD_FILE', None)
        self.env.setdefault('PGCONNECT_TIMEOUT', '10')
        # how long a command waits for the server to accept connections
        self.ready_timeout = 120

    def run(self, argv, stdin=None):
        done = subprocess.run(argv, env=self.env, input=stdin, capture_output=True, text=True, **as_postgres())
        if done.returncode != 0:
            # pgBackRest says its errors on stdout (log-level-console) and may leave stderr empty
            said = done.stderr.strip() or done.stdout.strip()
            raise Refused('%s failed (rc %d): %s' % (argv[0], done.returncode, said[-2000:]))
        return done.stdout

    def sql(self, database, statement):
        return self.run(['psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password',
                         '-d', database, '-c', statement])

    def read_whole(self, dump):
        """Reads every byte of a dump (pg_restore into nothing): a truncated or damaged one
        fails; `pg_restore -l` reads only its table of contents."""
        self.run(['pg_restore', '-f', '/dev/null', dump])

    def json(self, database, query):
        return json.loads(self.sql(database, query))

    def copy_hash(self, database, copy, snapshot=None):
        """The sha256 of the binary stream of a COPY ... TO STDOUT, read as it comes (in the
        transaction snapshot `snapshot`, when given: one that another session exported)."""
        argv = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-d', database]
        if snapshot:
            argv += ['-c', 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
                     '-c', 'SET TRANSACTION SNAPSHOT %s' % quote_literal(snapshot)]
        argv += ['-c', 'SET work_mem = %s' % quote_literal(HASH_SORT_MEMORY), '-c', copy]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=errors, **as_postgres())
            digest = hashlib.sha256()
            for chunk in iter(lambda: process.stdout.read(1 << 20), b''):
                digest.update(chunk)
            process.stdout.close()
            if process.wait() != 0:
                errors.seek(0)
                raise Refused('psql failed (rc %d) on %s: %s' % (
                    process.returncode, copy, errors.read().decode('utf-8', 'replace').strip()[-2000:]))
        return digest.hexdigest()

    def describe(self, database, keys=None, manifest_format=MANIFEST_FORMAT):
        return describe(lambda query: self.json(database, query), lambda copy: self.copy_hash(database, copy),
                        keys, manifest_format)

    def wait_until_ready(self, timeout=None):
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.json('postgres', SERVER_QUERY)
            except Refused:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)


def describe(json_of, copy_hash, keys=None, manifest_format=MANIFEST_FORMAT):
    """Extensions and tables of a database, as the manifest keeps them (with each table's
    primary key); json_of(query) is the JSON answer of a query in that database,
    copy_hash(copy) the sha256 of what a COPY ... TO STDOUT streams from it. With keys
    ({table: key columns}, a manifest's), the tables are hashed with those keys: a
    database being restored has no primary keys until its indexes are built. The
    geometries are hashed as manifest_format says (the manifest's, at a restore)."""
    tables = {}
    for table in json_of(TABLES_QUERY):
        name = '%s.%s' % (quote_ident(table['schema']), quote_ident(table['table']))
        if keys is not None:
            table = dict(table, key=keys.get(name))
        measured = json_of(table_query(table))
        for column, values in measured['geometry'].items():
            if manifest_format == 1:
                values['hash'] = json_of(geometry_hash_query_v1(table, column))['hash']
            else:
                values['hash'] = copy_hash(geometry_hash_copy(table, column))
        tables[name] = dict(table_summary(measured), key=table['key'])
    return {'extensions': json_of(EXTENSIONS_QUERY), 'tables': tables}


def saved_keys(saved):
    """{table: key columns} of a database in a manifest, or None when the manifest is older
    than the keys in it (then the restored database is described once its keys are built)."""
    tables = saved['tables']
    if not all('key' in table for table in tables.values()):
        return None
    return dict((name, table['key']) for name, table in tables.items())


class Snapshot(object):
    """A read-only REPEATABLE READ transaction in a psql session of its own, kept open while
    pg_dump --snapshot=<id> dumps what it sees: the manifest describes exactly the rows of
    the dump (writes go on meanwhile), and both run at once."""

    END = '__kargo_backup_end__'

    def __init__(self, server, database):
        self.database = database
        self.process = subprocess.Popen(
            ['psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-d', database],
            env=server.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            **as_postgres())
        self.id = self.answer('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot()').strip()

    def answer(self, query):
        self.process.stdin.write('%s;\n\\echo %s\n' % (query.strip().rstrip(';'), self.END))
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.rstrip('\n') == self.END:
                return '\n'.join(lines)
            lines.append(line.rstrip('\n'))
        raise Refused('psql failed on %s: %s' % (self.database, self.process.stderr.read().strip()[-2000:]))

    def json(self, query):
        return json.loads(self.answer(query))

    def close(self):
        if self.process.poll() is None:
            self.process.communicate('COMMIT;\n')


def read_json(path, missing=None):
    """The JSON value of a file; `missing` when the file is missing or unreadable."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return missing


def write_json(path, value):
    temporary = path + '.tmp'
    with open(temporary, 'w') as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write('\n')
    give_to_postgres(temporary)
    os.replace(temporary, path)


def backups_in(root):
    """{name: manifest (None when missing or unreadable)} of the backup folders of root."""
    names = sorted(n for n in os.listdir(root) if NAME_PATTERN.match(n) and os.path.isdir(os.path.join(root, n)))
    return dict((name, read_json(os.path.join(root, name, MANIFEST))) for name in names)


def update_status(root, **values):
    # a lock of its own: the scheduler writes its next run while a playbook's backup runs
    with open(os.path.join(root, STATUS_LOCK), 'a') as lock:
        give_to_postgres(lock.name)
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = read_json(os.path.join(root, STATUS), {})
        status.update(values)
        write_json(os.path.join(root, STATUS), status)
    return status


@contextlib.contextmanager
def exclusive(root):
    """One backup, restore or retention at a time in root (the schedule and a playbook may
    start one together, and both write status.json): waits for the one under way. Then no
    backup is under way, so a half-made folder (of one that was killed) goes."""
    with open(os.path.join(root, LOCK), 'a') as lock:
        give_to_postgres(lock.name)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log('waiting for the backup or restore under way in %s' % root)
            fcntl.flock(lock, fcntl.LOCK_EX)
        for name in sorted(os.listdir(root)):
            if name.endswith(PARTIAL) and NAME_PATTERN.match(name[:-len(PARTIAL)]):
                shutil.rmtree(os.path.join(root, name))
                log('removed %s, left half-made by a backup that was stopped' % name)
        yield


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))


# --- file sets: files that are not rendered from the inventory -----------------------------

def parse_file_set(text):
    """NAME=DIR[:GLOB] (--files): {'name', 'dir', 'glob'}; GLOB defaults to every file."""
    match = FILE_SET_PATTERN.match(text)
    if not match:
        raise argparse.ArgumentTypeError('a file set is NAME=/ABSOLUTE/DIR[:GLOB] with NAME a lower-case '
                                         'identifier, not %r' % text)
    return {'name': match.group(1), 'dir': os.path.normpath(match.group(2)), 'glob': match.group(3) or '*'}


def file_set_members(directory, pattern):
    """Paths under directory (relative, sorted, a folder before what it holds) whose
    relative path matches pattern (fnmatch: '*' matches '/' too, so '*' is everything)."""
    members = []
    for top, folders, files in os.walk(directory):
        for entry in folders + files:
            relative = os.path.relpath(os.path.join(top, entry), directory)
            if fnmatch.fnmatchcase(relative, pattern):
                members.append(relative)
    return sorted(members, key=lambda path: path.split(os.sep))


def file_set_file(name):
    return 'files-%s.tar' % name


def archive_file_set(file_set, folder):
    """files-NAME.tar of the file set in the backup folder (numeric owners, modes, times);
    what the manifest says of it."""
    if not os.path.isdir(file_set['dir']):
        raise Refused('file set %s: %s is not a folder' % (file_set['name'], file_set['dir']))
    members = file_set_members(file_set['dir'], file_set['glob'])
    path = os.path.join(folder, file_set_file(file_set['name']))
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            archive.add(os.path.join(file_set['dir'], member), arcname=member, recursive=False)
    give_to_postgres(path)
    log('file set %s: %d files of %s' % (file_set['name'], len(members), file_set['dir']))
    return {'file': file_set_file(file_set['name']), 'dir': file_set['dir'], 'glob': file_set['glob'],
            'members': len(members)}


def unsafe_members(archive):
    """Why the members of an archive may not be extracted (a path leaving the folder, a
    link to outside it, a device): one reason per bad member."""
    def leaves(path):
        return path.startswith('/') or '..' in path.split('/')

    problems = []
    for member in archive.getmembers():
        # a symbolic link is relative to its folder, a hard link to the archive's top
        target = (os.path.normpath(os.path.join(os.path.dirname(member.name), member.linkname)) if member.issym()
                  else member.linkname)
        if leaves(member.name):
            problems.append('%s leaves the folder' % member.name)
        elif (member.issym() or member.islnk()) and (member.linkname.startswith('/') or leaves(target)):
            problems.append('%s links outside the folder (%s)' % (member.name, member.linkname))
        elif not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            problems.append('%s is not a file, folder or link' % member.name)
    return problems


def check_file_sets(name, folder, manifest):
    for set_name, saved in sorted(manifest.get('file_sets', {}).items()):
        with tarfile.open(os.path.join(folder, saved['file'])) as archive:
            problems = unsafe_members(archive)
        if problems:
            raise Refused('backup %s is refused: its file set %s has %s' % (name, set_name, '; '.join(problems)))


def restore_file_set(folder, saved, directory):
    """The files of a file set back in directory: those there that match its glob go, the
    archive's come back with their owners and modes."""
    for member in reversed(file_set_members(directory, saved['glob'])):
        path = os.path.join(directory, member)
        if os.path.isdir(path) and not os.path.islink(path):
            if not os.listdir(path):
                os.rmdir(path)
        else:
            os.unlink(path)
    with tarfile.open(os.path.join(folder, saved['file'])) as archive:
        # the 'tar' filter (where Python has it) refuses what unsafe_members refuses, again
        extra = {'filter': 'tar'} if hasattr(tarfile, 'tar_filter') else {}
        archive.extractall(directory, numeric_owner=True, **extra)


def restore_file_sets(name, folder, manifest, file_sets):
    """The backup's file sets that are asked for (--files) back in their folders."""
    saved_sets = manifest.get('file_sets', {})
    restored = []
    for file_set in file_sets:
        saved = saved_sets.get(file_set['name'])
        if saved is None:
            log('backup %s has no file set %s: left as it is' % (name, file_set['name']))
            continue
        restore_file_set(folder, saved, file_set['dir'])
        log('file set %s: %d files back in %s' % (file_set['name'], saved['members'], file_set['dir']))
        restored.append(file_set['name'])
    return restored


def pitr_status(pitr):
    """The status fields of point in time after a backup: its pgBackRest backup, or none
    when this backup had none (kargo_backup_pitr turned off: what an earlier one said is
    no longer true)."""
    if not pitr:
        return {'last_pitr_backup': None, 'pitr_oldest_time': None}
    return {'last_pitr_backup': pitr['label'], 'pitr_oldest_time': pitr['oldest_time']}


# --- the commands ----------------------------------------------------------------------

def backup(server, root, pitr_full_days=None, file_sets=()):
    """The logical backup; with pitr_full_days, a pgBackRest backup after it."""
    started = datetime.datetime.now(datetime.timezone.utc)
    name = utc_name(started)
    final = os.path.join(root, name)
    folder = final + PARTIAL
    os.makedirs(folder, mode=0o700)
    give_to_postgres(folder)
    timings = Timings()
    try:
        saved_sets = dict((fs['name'], archive_file_set(fs, folder)) for fs in file_sets)
        result = finish_backup(server, root, started, name, folder, final, timings, saved_sets)
    except BaseException:
        # nothing half-made is left to be taken for a backup
        shutil.rmtree(folder)
        raise
    if pitr_full_days is not None:
        with timings.phase('pgBackRest backup'):
            result['pitr'] = pitr_backup(server, pitr_full_days)
    update_status(root, **pitr_status(result.get('pitr')))
    result['seconds'] = timings.seconds
    return result


def dump_and_describe(server, database, path):
    """pg_dump -Fc of a database, and at the same time its description for the manifest,
    both of the same snapshot."""
    snapshot = Snapshot(server, database)
    try:
        # zstd: half the time of the default gzip, and a smaller file (PostgreSQL 16 and later)
        return while_running(server, ['pg_dump', '-Fc', '--compress=zstd', '--no-password', '--snapshot=' + snapshot.id,
                                      '-d', database, '-f', path],
                            lambda: describe(snapshot.json,
                                             lambda copy: server.copy_hash(database, copy, snapshot=snapshot.id)))
    finally:
        snapshot.close()


def while_running(server, argv, work):
    """work()'s answer, got while a program of the server runs (as Server.run would run
    it); the program's failure fails the whole."""
    process = subprocess.Popen(argv, env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               **as_postgres())
    try:
        answer = work()
    finally:
        errors = process.communicate()[1]
    if process.returncode != 0:
        raise Refused('%s failed (rc %d): %s' % (argv[0], process.returncode, errors.strip()[-2000:]))
    return answer


def finish_backup(server, root, started, name, folder, final, timings, file_sets):
    info = server.wait_until_ready()
    log('backing up PostgreSQL %s: %d databases into %s' % (info['version_num'], len(info['databases']), final))
    files = {}

    server.run(['pg_dumpall', '--globals-only', '--no-password', '-f', os.path.join(folder, GLOBALS)])
    databases = {}
    for number, database in enumerate(info['databases'], 1):
        file_name = dump_file_name(database['name'])
        path = os.path.join(folder, file_name)
        log('dumping %s (%d/%d)' % (database['name'], number, len(info['databases'])))
        with timings.phase('dump and describe'):
            described = dump_and_describe(server, database['name'], path)
        # a dump that cannot be read back fails the backup now
        with timings.phase('read back whole'):
            server.read_whole(path)
        described.update(database, dump=file_name)
        databases[database['name']] = described
    with timings.phase('checksums'):
        for file_name in sorted(os.listdir(folder)):
            path = os.path.join(folder, file_name)
            os.chmod(path, 0o600)
            files[file_name] = {'sha256': sha256_of(path), 'bytes': os.path.getsize(path)}

    manifest = {
        'format': MANIFEST_FORMAT, 'name': name, 'started': started.isoformat(),
        'finished': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'server': {'version_num': info['version_num'], 'version': info['version']},
        'globals': GLOBALS, 'databases': databases, 'files': files, 'file_sets': file_sets,
        # every dump was read back whole by pg_restore and checksummed
        'verified': True,
    }
    write_json(os.path.join(folder, MANIFEST), manifest)
    os.rename(folder, final)
    size = folder_bytes(final)
    update_status(root, last_backup=name, last_backup_verified=True, last_backup_bytes=size,
                  last_backup_finished=manifest['finished'])
    log('backup %s done: %d bytes' % (name, size))
    return {'changed': True, 'name': name, 'path': final, 'bytes': size, 'server': manifest['server'],
            'databases': dict((db, {'tables': len(d['tables']), 'rows': sum(t['rows'] for t in d['tables'].values()),
                                    'dump': d['dump']}) for db, d in databases.items()),
            'file_sets': dict((n, {'members': f['members']}) for n, f in file_sets.items()),
            # every file of the folder, the manifest too (kargo_backup_fetch copies them)
            'files': sorted(list(files) + [MANIFEST])}


def choose_backup(root, wanted):
    backups = backups_in(root)
    if wanted:
        if wanted not in backups:
            raise Refused('kargo_restore_from: no backup named %s in %s (there are: %s)'
                          % (wanted, root, ', '.join(sorted(backups)) or 'none'))
        if backups[wanted] is None:
            raise Refused('backup %s has no readable %s: it is not a complete backup' % (wanted, MANIFEST))
        return wanted, backups[wanted]
    name = newest_verified(backups)
    if name is None:
        raise Refused('no verified backup in %s to restore' % root)
    return name, backups[name]


def check_restorable(server, name, folder, manifest, info):
    """Every reason not to restore this backup on this server, before anything changes. The
    dumps are read whole while the files' checksums are computed (each reads every byte:
    together they take the time of the longer one); a file that changed is named first."""
    if manifest.get('format', 1) > MANIFEST_FORMAT:
        raise Refused('backup %s has a manifest of format %s, newer than this kargo-backup reads (%d)'
                      % (name, manifest['format'], MANIFEST_FORMAT))
    saved_major, server_major = major_version(manifest['server']['version_num']), major_version(info['version_num'])
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        checksums = pool.submit(checksum_problems, folder, manifest)
        unreadable = None
        if saved_major <= server_major:
            for database in manifest['databases'].values():
                try:
                    server.read_whole(os.path.join(folder, database['dump']))
                except Refused as error:
                    unreadable = 'backup %s is refused: %s cannot be read whole (%s)' % (name, database['dump'], error)
                    break
        problems = checksums.result()
    if problems:
        raise Refused('backup %s is refused: %s' % (name, '; '.join(problems)))
    if saved_major > server_major:
        raise Refused('backup %s was made by PostgreSQL %d, newer than this server (PostgreSQL %d): '
                      'pg_restore of this server cannot read it' % (name, saved_major, server_major))
    if unreadable:
        raise Refused(unreadable)


def restore_database(server, folder, name, saved, manifest_format, timings):
    """Restores one database into <name>_kargo_restoring and compares it with the manifest
    (its geometries hashed as that manifest's format does)."""
    target = restoring_name(name)
    server.sql('postgres', 'DROP DATABASE IF EXISTS %s' % quote_ident(target))
    server.sql('postgres', 'CREATE DATABASE %s OWNER %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s'
               % (quote_ident(target), quote_ident(saved['owner']), quote_literal(saved['encoding']),
                  quote_literal(saved['collate']), quote_literal(saved['ctype'])))
    log('restoring %s into %s' % (name, target))
    dump = os.path.join(folder, saved['dump'])
    keys = saved_keys(saved)
    if keys is None:
        with timings.phase('pg_restore'):
            server.run(restore_argv(target, dump, None))
        restored = None
    else:
        with timings.phase('pg_restore: tables and rows'):
            server.run(restore_argv(target, dump, 'pre-data'))
            server.run(restore_argv(target, dump, 'data'))
        # the rows are all there: they are compared while the indexes are built
        with timings.phase('pg_restore: indexes and constraints, meanwhile compared with the manifest'):
            restored = while_running(server, restore_argv(target, dump, 'post-data'),
                                     lambda: server.describe(target, keys, manifest_format))
    # a dump holds no planner statistics: without them the map servers' queries get other
    # plans (slower, and returning features in another order) until autovacuum comes by
    with timings.phase('ANALYZE'):
        server.sql(target, 'ANALYZE')
    if restored is None:
        with timings.phase('compare with the manifest'):
            restored = server.describe(target, manifest_format=manifest_format)
    differences = compare_databases(saved, restored)
    if differences:
        server.sql('postgres', 'DROP DATABASE IF EXISTS %s' % quote_ident(target))
        raise Refused('the restore of %s does not match its manifest (%s); nothing was swapped in'
                      % (name, '; '.join(differences)))
    return target


def restore_argv(target, dump, section):
    """pg_restore of one section of a dump (or of all), in parallel jobs, one per core:
    tables load and indexes build side by side."""
    return (['pg_restore', '--exit-on-error', '--no-password', '--jobs', str(os.cpu_count() or 1), '-d', target]
            + (['--section=' + section] if section else []) + [dump])


def swap_in(server, name, restored, stamp, existing, attempts=20):
    """The restored database takes the name; the old one (when there is one) is kept."""
    kept = None
    if name in existing:
        kept = kept_name(name, stamp)
        server.sql('postgres', 'ALTER DATABASE %s ALLOW_CONNECTIONS false' % quote_ident(name))
        for attempt in range(attempts):
            server.sql('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                                   'WHERE datname = %s AND pid <> pg_backend_pid()' % quote_literal(name))
            try:
                server.sql('postgres', 'ALTER DATABASE %s RENAME TO %s' % (quote_ident(name), quote_ident(kept)))
                break
            except Refused:
                if attempt == attempts - 1:
                    server.sql('postgres', 'ALTER DATABASE %s ALLOW_CONNECTIONS true' % quote_ident(name))
                    raise
                time.sleep(0.5)
        server.sql('postgres', 'ALTER DATABASE %s ALLOW_CONNECTIONS true' % quote_ident(kept))
    server.sql('postgres', 'ALTER DATABASE %s RENAME TO %s' % (quote_ident(restored), quote_ident(name)))
    return kept


def restore(server, root, wanted=None, file_sets=(), pitr=False):
    name, manifest = choose_backup(root, wanted)
    folder = os.path.join(root, name)
    info = server.wait_until_ready()
    timings = Timings()
    with timings.phase('checks'):
        check_restorable(server, name, folder, manifest, info)
        check_file_sets(name, folder, manifest)
    log('restoring backup %s (PostgreSQL %s) on PostgreSQL %s' % (name, manifest['server']['version_num'],
                                                                   info['version_num']))
    with open(os.path.join(folder, manifest['globals'])) as handle:
        server.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-d', 'postgres'],
                   stdin=globals_for_restore(handle.read(), server.user))
    restored = {}
    try:
        for db, saved in sorted(manifest['databases'].items()):
            restored[db] = restore_database(server, folder, db, saved, manifest.get('format', 1), timings)
    except Refused:
        # the databases restored before the one refused are not swapped in either
        for target in restored.values():
            server.sql('postgres', 'DROP DATABASE IF EXISTS %s' % quote_ident(target))
        raise
    stamp = utc_name()
    existing = set(d['name'] for d in info['databases'])
    kept = {}
    for db in sorted(restored):
        kept[db] = swap_in(server, db, restored[db], stamp, existing)
        log('%s is the restored one%s' % (db, ', the old one kept as %s' % kept[db] if kept[db] else ''))
    restored_sets = restore_file_sets(name, folder, manifest, file_sets)
    followed = pitr_follow(server) if pitr else False
    update_status(root, last_restore='backup %s' % name, last_restore_finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    return {'changed': True, 'name': name, 'restored': sorted(restored), 'file_sets': restored_sets,
            'pitr_followed': followed,
            'kept': dict((db, old) for db, old in kept.items() if old),
            'verified': 'every table matches the manifest (rows, SRIDs, geometry hashes)', 'seconds': timings.seconds}


# --- point-in-time recovery (pgBackRest) --------------------------------------------------

TIME_PATTERN = re.compile(r'^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)'
                          r' ?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)$')


def parse_restore_time(text):
    """kargo_restore_time ('2026-11-24 10:15:00+00', an ISO time with its UTC offset) as an
    aware datetime."""
    match = TIME_PATTERN.match(text.strip())
    if not match:
        raise Refused("kargo_restore_time: %r is not a time with its UTC offset, like '2026-11-24 10:15:00+00'" % text)
    day, clock, offset = match.groups()
    if offset == 'Z':
        offset = '+00:00'
    elif len(offset) == 3:
        offset += ':00'
    elif ':' not in offset:
        offset = offset[:3] + ':' + offset[3:]
    if clock.count(':') == 1:
        clock += ':00'
    try:
        return datetime.datetime.fromisoformat('%sT%s%s' % (day, clock, offset))
    except ValueError as error:
        raise Refused('kargo_restore_time: %r is not a time (%s)' % (text, error))


def pitr_backups(info):
    """The backups (not failed) of `pgbackrest info --output=json`, oldest first."""
    return [b for stanza in info for b in stanza.get('backup', []) if not b.get('error')]


def oldest_restorable_time(info):
    """The end of the oldest backup of `pgbackrest info --output=json`: the database can be
    restored to any time since; None when the repository has no backup."""
    backups = pitr_backups(info)
    if not backups:
        return None
    return datetime.datetime.fromtimestamp(min(b['timestamp']['stop'] for b in backups), datetime.timezone.utc)


def check_restore_time(wanted, oldest, now):
    """Refuses a restore time the repository cannot reach (`oldest`: oldest_restorable_time's)."""
    if oldest is None:
        raise Refused('kargo_restore_time: there is no pgBackRest backup to restore from yet '
                      '(playbooks/backup.yml makes one)')
    if wanted > now:
        raise Refused('kargo_restore_time: %s is in the future (now: %s)' % (wanted.isoformat(), now.isoformat(timespec='seconds')))
    if wanted < oldest:
        raise Refused('kargo_restore_time: %s is before the oldest backup, which ended at %s: the database '
                      'cannot be restored to a time before it' % (wanted.isoformat(), oldest.isoformat()))


def pitr_backup_type(info, now, full_every_days):
    """'full' when the repository has no full backup newer than full_every_days, else 'diff'."""
    fulls = [b['timestamp']['stop'] for b in pitr_backups(info) if b.get('type') == 'full']
    if not fulls:
        return 'full'
    newest = datetime.datetime.fromtimestamp(max(fulls), datetime.timezone.utc)
    return 'full' if now - newest >= datetime.timedelta(days=full_every_days) else 'diff'


def pgbackrest(server, *args):
    return server.run(['pgbackrest', '--log-level-console=warn'] + list(args))


def pitr_info(server):
    return json.loads(pgbackrest(server, 'info', '--output=json'))


def pitr_backup(server, full_every_days):
    """A pgBackRest backup (archiving checked first), verified; what it made."""
    log('pgBackRest: checking that WAL archiving works')
    pgbackrest(server, 'check')
    kind = pitr_backup_type(pitr_info(server), datetime.datetime.now(datetime.timezone.utc), full_every_days)
    log('pgBackRest: %s backup' % kind)
    # one process per core compresses and copies the files
    pgbackrest(server, 'backup', '--type=' + kind, '--process-max=%d' % (os.cpu_count() or 1))
    pgbackrest(server, 'verify')
    info = pitr_info(server)
    newest = pitr_backups(info)[-1]
    return {'label': newest['label'], 'type': newest['type'], 'bytes': newest['info']['repository']['delta'],
            'oldest_time': oldest_restorable_time(info).isoformat()}


def repository_system_id(info):
    """The system identifier of the database pgBackRest's repository follows (the newest
    entry of the db history in `pgbackrest info --output=json`); None without a stanza."""
    history = [db for stanza in info for db in stanza.get('db', [])]
    return max(history, key=lambda db: db['id'])['system-id'] if history else None


def server_system_id(server):
    return int(server.sql('postgres', 'SELECT system_identifier FROM pg_control_system()').strip())


def pitr_init(server):
    """pgBackRest's stanza in its repository, once: until it exists the server's
    archive-push fails and its WAL waits in pg_wal. A repository that outlived its
    database (on a node of its own) follows another database system than this new one:
    left as it is (its backups restore that database: a restore to a time), said in
    `other_database`."""
    server.wait_until_ready()
    followed = repository_system_id(pitr_info(server))
    if followed is not None and followed != server_system_id(server):
        log('pgBackRest: the repository holds the backups of another database (system %s), not of this new one: '
            'left as it is' % followed)
        return {'changed': False, 'other_database': followed}
    said = server.run(['pgbackrest', '--log-level-console=info', 'stanza-create'])
    made = 'already exists' not in said
    if made:
        log('pgBackRest: stanza created, the WAL is archived from now on')
    return {'changed': made, 'other_database': None}


def pitr_follow(server):
    """After a logical restore into a database made anew beside a repository that outlived
    the one before: the repository follows this one from now on (stanza-upgrade; the
    backups of the one before stay in it as its prior history). Whether it had to."""
    if repository_system_id(pitr_info(server)) in (None, server_system_id(server)):
        return False
    pgbackrest(server, 'stanza-upgrade')
    log('pgBackRest: the repository follows the restored database from now on')
    return True


def wait_until_writable(server, timeout):
    """After a point-in-time restore: the server answers while it replays the WAL (read
    only); this waits until it has been promoted and takes writes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.sql('postgres', 'SELECT pg_is_in_recovery()').strip() == 'f':
                return {'changed': False, 'writable': True}
            problem = 'it is still replaying the WAL'
        except Refused as error:
            problem = str(error)
        if time.monotonic() > deadline:
            raise Refused('the database does not take writes after %d s: %s' % (timeout, problem))
        time.sleep(1)


def pitr_check(server, text):
    wanted = parse_restore_time(text)
    try:
        # archives the WAL written so far: every commit up to now can be replayed
        pgbackrest(server, 'check')
    except Refused as error:
        log('the database does not answer, restoring from the WAL archived so far (%s)' % error)
    oldest = oldest_restorable_time(pitr_info(server))
    check_restore_time(wanted, oldest, datetime.datetime.now(datetime.timezone.utc))
    return {'changed': False, 'target': wanted.isoformat(), 'oldest': oldest.isoformat()}


def wait_until_stopped(data_dir, timeout, clock=time.monotonic, sleep=time.sleep):
    """Until the server has left its data directory (no postmaster.pid): a swarm service
    scaled to 0 may still be shutting down (its last checkpoint, its archiver's last
    tries) when the scale returns."""
    pid_file = os.path.join(data_dir, 'postmaster.pid')
    deadline = clock() + timeout
    while os.path.exists(pid_file):
        if clock() > deadline:
            raise Refused('the database still runs on %s after %d s (%s is there): a point-in-time restore '
                          'needs it stopped' % (data_dir, timeout, pid_file))
        sleep(1)


def pitr_restore(server, root, text):
    """Into the stopped database's data directory; it replays the WAL up to `text` when it
    starts, then opens for writing (a new timeline)."""
    wanted = parse_restore_time(text)
    wait_until_stopped(os.environ.get('PGBACKREST_PG1_PATH', '/var/lib/postgresql/data'), 180)
    log('pgBackRest: restoring the database as it was at %s' % wanted.isoformat())
    pgbackrest(server, 'restore', '--delta', '--type=time', '--target=' + wanted.isoformat(sep=' '),
               '--target-action=promote')
    update_status(root, last_restore='to the time %s' % wanted.isoformat(),
                  last_restore_finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    return {'changed': True, 'target': wanted.isoformat()}

# --- schedule and retention ------------------------------------------------------------

CRON_FIELDS = (('minute', 0, 59), ('hour', 0, 23), ('day of month', 1, 31), ('month', 1, 12), ('day of week', 0, 7))


def parse_schedule(text):
    """A cron expression (minute hour day-of-month month day-of-week; *, lists, ranges and
    /steps; day of week 0 or 7 = Sunday) as a list of five sets of allowed values."""
    fields = text.split()
    if len(fields) != 5:
        raise Refused('kargo_backup_schedule: %r is not a cron expression of five fields '
                      '(minute hour day-of-month month day-of-week, e.g. "15 3 * * *")' % text)
    allowed = []
    for field, (what, low, high) in zip(fields, CRON_FIELDS):
        values = set()
        for part in field.split(','):
            match = re.match(r'^(\*|([0-9]+)(?:-([0-9]+))?)(?:/([0-9]+))?$', part)
            if not match:
                raise Refused('kargo_backup_schedule: %r is not a %s field' % (part, what))
            first, last = (low, high) if match.group(1) == '*' else (
                int(match.group(2)), int(match.group(3) or (high if match.group(4) else match.group(2))))
            step = int(match.group(4) or 1)
            if not low <= first <= last <= high or step == 0:
                raise Refused('kargo_backup_schedule: %r is out of range for the %s (%d-%d)' % (part, what, low, high))
            values.update(range(first, last + 1, step))
        allowed.append(values)
    if 7 in allowed[4]:
        allowed[4] = (allowed[4] - {7}) | {0}
    return allowed


def next_run(allowed, after):
    """The first whole minute after `after` that the schedule allows (cron's rule: when both
    day of month and day of week are restricted, either one matching is enough)."""
    minutes, hours, days, months, weekdays = allowed
    every_day, every_weekday = len(days) == 31, len(weekdays) == 7
    moment = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        day_ok = moment.day in days
        weekday_ok = (moment.isoweekday() % 7) in weekdays
        date_ok = day_ok and weekday_ok if every_day or every_weekday else day_ok or weekday_ok
        if moment.month in months and date_ok and moment.hour in hours and moment.minute in minutes:
            return moment
        moment += datetime.timedelta(minutes=1)
    raise Refused('kargo_backup_schedule: no time in the next year matches it')


def backups_to_remove(backups, daily, weekly, monthly):
    """The names of {name: verified} that retention removes: kept are the newest verified
    backup of each of the last `daily` days, `weekly` ISO weeks and `monthly` months that
    have one, and always the newest verified backup; a backup that is not verified is
    removed once a newer verified one exists."""
    verified = sorted((name for name, ok in backups.items() if ok), reverse=True)
    kept = set(verified[:1])
    for count, period in ((daily, lambda t: t.date()), (weekly, lambda t: t.isocalendar()[:2]),
                          (monthly, lambda t: (t.year, t.month))):
        seen = []
        for name in verified:
            key = period(datetime.datetime.strptime(name, NAME_FORMAT))
            if key not in seen:
                seen.append(key)
                if len(seen) > count:
                    break
                kept.add(name)
    newest = verified[0] if verified else ''
    return sorted(name for name in backups if name not in kept and (backups[name] or name < newest))


def remove_old_backups(root, keep):
    """Retention (keep = daily, weekly, monthly counts) applied to the backups of root."""
    verified = dict((name, bool(m and m.get('verified'))) for name, m in backups_in(root).items())
    removed = backups_to_remove(verified, *keep)
    for name in removed:
        shutil.rmtree(os.path.join(root, name))
        log('retention: removed backup %s' % name)
    return removed


def record_failure(root, error):
    update_status(root, last_failure=str(error), last_failure_at=utc_name())


def scheduled_run(server, root, keep, pitr_full_days=None, file_sets=()):
    """One scheduled backup and the retention after it: its result, a failure too."""
    try:
        with exclusive(root):
            result = backup(server, root, pitr_full_days, file_sets)
            result['removed'] = remove_old_backups(root, keep)
    except (Refused, OSError) as error:
        record_failure(root, error)
        log('scheduled backup FAILED: %s' % error)
        result = {'failed': True, 'msg': str(error)}
    update_status(root, last_scheduled_at=utc_name(), last_scheduled_ok=not result.get('failed'))
    return result


def check_schedule(cron, keep):
    allowed = parse_schedule(cron)
    for setting, count in zip(('daily', 'weekly', 'monthly'), keep):
        if count < 0:
            raise Refused('kargo_backup_keep_%s: %d must be 0 or more' % (setting, count))
    return allowed


def stop_on_sigterm(signum, frame):
    raise Stopped()


def schedule(server, root, cron, keep, pitr_full_days=None, file_sets=(), now=lambda: datetime.datetime.now(datetime.timezone.utc)):
    """Backs up at each time `cron` allows (UTC), for ever (until SIGTERM)."""
    allowed = check_schedule(cron, keep)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    log('schedule %r (UTC); retention keeps %d daily, %d weekly, %d monthly backups' % ((cron,) + tuple(keep)))
    while True:
        due = next_run(allowed, now())
        update_status(root, schedule=cron, next_run_at=due.isoformat())
        log('next backup at %s' % due.isoformat())
        while now() < due:
            time.sleep(min(30.0, max(0.5, (due - now()).total_seconds())))
        result = scheduled_run(server, root, keep, pitr_full_days, file_sets)
        # one line per run in docker logs
        print(json.dumps(result, sort_keys=True), flush=True)


def human_bytes(count):
    for unit in ('bytes', 'KiB', 'MiB', 'GiB'):
        if count < 1024 or unit == 'GiB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (count, unit)
        count /= 1024.0


def status_summary(root, backups, status):
    """What a sysadmin asks first, in lines: the newest backup and whether it was verified,
    the schedule's last and next runs, the last failure, the last restore."""
    if not backups:
        lines = ['No backup in %s yet.' % root]
    else:
        newest, verified = backups[-1], [b for b in backups if b['verified']]
        lines = ['%d backups in %s, %s in all; the newest: %s, %s, %s.' % (
            len(backups), root, human_bytes(sum(b['bytes'] for b in backups)), newest['name'],
            'verified' if newest['verified'] else 'NOT verified', human_bytes(newest['bytes']))]
        if not newest['verified']:
            lines.append('The newest verified backup: %s.' % (verified[-1]['name'] if verified else 'none'))
    if 'last_scheduled_at' in status:
        lines.append('Last scheduled run: %s, %s.' % (status['last_scheduled_at'],
                                                      'ok' if status.get('last_scheduled_ok') else 'FAILED'))
    if status.get('schedule'):
        lines.append('Schedule: "%s" (UTC), next run at %s.' % (status['schedule'], status.get('next_run_at', '?')))
    if status.get('last_pitr_backup'):
        lines.append('Point in time, as of the last backup: pgBackRest backup %s, restorable to any time since %s.' % (
            status['last_pitr_backup'], status.get('pitr_oldest_time', '?')))
    if status.get('last_failure'):
        lines.append('Last failure, at %s: %s' % (status.get('last_failure_at', '?'), status['last_failure']))
    else:
        lines.append('No failure recorded.')
    if status.get('last_restore'):
        lines.append('Last restore: %s, finished %s.' % (status['last_restore'], status.get('last_restore_finished', '?')))
    return lines


def listing(root):
    backups = [{'name': name, 'verified': bool(m and m.get('verified')), 'bytes': folder_bytes(os.path.join(root, name))}
               for name, m in backups_in(root).items()]
    status = read_json(os.path.join(root, STATUS), {})
    return {'changed': False, 'status': status, 'backups': backups, 'summary': status_summary(root, backups, status)}


def run_command(args):
    keep = (args.keep_daily, args.keep_weekly, args.keep_monthly)
    if args.command == 'list':
        return listing(args.root)
    if args.command == 'schedule' and args.check:
        allowed = check_schedule(args.schedule, keep)
        return {'changed': False, 'schedule': args.schedule,
                'next_run': next_run(allowed, datetime.datetime.now(datetime.timezone.utc)).isoformat()}
    pitr_full_days = args.pitr_full_days if args.pitr else None
    server = Server(os.environ)
    if args.command == 'schedule':
        server.ready_timeout = args.ready_timeout
        return schedule(server, args.root, args.schedule, keep, pitr_full_days, args.files)
    if args.command == 'pitr-check':
        return pitr_check(server, args.time)
    if args.command == 'pitr-init':
        return pitr_init(server)
    if args.command == 'wait-writable':
        return wait_until_writable(server, args.ready_timeout)
    with exclusive(args.root):
        if args.command == 'backup':
            return backup(server, args.root, pitr_full_days, args.files)
        if args.command == 'pitr-restore':
            return pitr_restore(server, args.root, args.time)
        return restore(server, args.root, args.wanted, args.files, args.pitr)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='kargo-backup', description=__doc__.split('\n\n')[0])
    parser.add_argument('command', choices=['backup', 'restore', 'list', 'schedule', 'pitr-init', 'pitr-check',
                                            'pitr-restore', 'wait-writable'])
    parser.add_argument('--root', default='/backups')
    parser.add_argument('--from', dest='wanted', default='')
    parser.add_argument('--schedule', default='15 3 * * *')
    parser.add_argument('--keep-daily', type=int, default=7)
    parser.add_argument('--keep-weekly', type=int, default=4)
    parser.add_argument('--keep-monthly', type=int, default=6)
    parser.add_argument('--ready-timeout', type=float, default=120,
                        help='seconds a scheduled backup waits for the server to accept connections '
                             '(wait-writable: to take writes)')
    parser.add_argument('--check', action='store_true')
    parser.add_argument('--files', type=parse_file_set, action='append', default=[], metavar='NAME=DIR[:GLOB]',
                        help='backup, restore, schedule: also the files of DIR that match GLOB')
    parser.add_argument('--pitr', action='store_true', help='also a pgBackRest backup after the logical one')
    parser.add_argument('--pitr-full-days', type=int, default=7,
                        help='a full pgBackRest backup when the last full one is this old, else a differential one')
    parser.add_argument('--time', default='', help='pitr-check, pitr-restore: the time to restore the database to')
    args = parser.parse_args(argv)
    try:
        result = run_command(args)
    except Stopped:
        log('stopped (SIGTERM)')
        return 0
    except (Refused, OSError) as error:
        if args.command in ('backup', 'pitr-restore'):
            record_failure(args.root, error)
        log(str(error))
        result = {'failed': True, 'msg': str(error)}
    print(json.dumps(result, sort_keys=True))
    return 1 if result.get('failed') else 0


if __name__ == '__main__':
    sys.exit(main())
