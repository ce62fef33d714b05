# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qgis_server_projects entries read on the controller: each checked (a name for
/qgis/<name>/, a .qgs or .qgz file that is a QGIS project), its layers described, the
files it reads listed (relative to its folder; a Shapefile's sidecars too) and hashed
with the project, so that a project is copied again only when what it serves changed.
Every bad entry is reported at once, naming the project and the reason."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import xml.etree.ElementTree as ElementTree
import zipfile

from ansible_collections.geostack.kargo.plugins.module_utils.datasets import NAME_PATTERN, files_digest, shapefile_files

KEYS = frozenset(('name', 'path'))
PROJECT_EXTENSIONS = ('.qgs', '.qgz')
# Providers whose datasource starts with a file (before the first |).
FILE_PROVIDERS = ('ogr', 'gdal')
# A URL or a GDAL connection string (http:, PG:, GPKG:...), or a drive letter: no file here.
SCHEME_PATTERN = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')


class NotAProject(ValueError):
    """A file that is not a QGIS project; the message says why, shortly."""


def project_root(data):
    """The root of a project's XML (bytes), checked to be <qgis>; NotAProject if not."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise NotAProject('not XML: %s' % error)
    if root.tag != 'qgis':
        raise NotAProject('its root element is %s, not qgis' % root.tag)
    return root


def qgz_member(path):
    """The bytes of the one .qgs at the top level of a .qgz archive; NotAProject if not."""
    if not zipfile.is_zipfile(path):
        raise NotAProject('not a zip archive')
    try:
        with zipfile.ZipFile(path) as archive:
            members = [member for member in archive.namelist()
                       if '/' not in member and member.lower().endswith('.qgs')]
            if not members:
                raise NotAProject('holds no .qgs')
            if len(members) > 1:
                raise NotAProject('holds %d .qgs (%s), not one' % (len(members), ', '.join(sorted(members))))
            return archive.read(members[0])
    except (zipfile.BadZipfile, zipfile.LargeZipFile, RuntimeError, NotImplementedError) as error:
        raise NotAProject('not a readable zip archive (%s)' % error)


def read_project(path):
    """The root element of a .qgs or .qgz project file; NotAProject saying why not."""
    try:
        if path.lower().endswith('.qgz'):
            return project_root(qgz_member(path))
        with open(path, 'rb') as handle:
            return project_root(handle.read())
    except (IOError, OSError) as error:
        raise NotAProject('cannot be read (%s)' % (error.strerror or error))


def project_layers(root):
    """Each projectlayers/maplayer as (id, layer name, provider, datasource), in project order
    (QGIS Server's log names a layer it cannot open by its id)."""
    return [tuple((layer.findtext(key) or '').strip() for key in ('id', 'layername', 'provider', 'datasource'))
            for layer in root.findall('projectlayers/maplayer')]


def relative_file(provider, datasource):
    """The file a layer reads relative to its project, as written; '' when it reads none
    that way (another provider, an absolute path, a URL or connection string, /vsi...)."""
    if provider not in FILE_PROVIDERS:
        return ''
    part = datasource.split('|', 1)[0].strip()
    if not part or part.startswith('/') or SCHEME_PATTERN.match(part):
        return ''
    return part


def layer_files(layer_name, part, folder, label):
    """([{src, dest}], errors) for a layer's relative file `part`: inside `folder` (the
    project's), a file on the controller; a .shp with its sidecars."""
    src = os.path.normpath(os.path.join(folder, part))
    dest = os.path.relpath(src, folder)
    if dest == os.pardir or dest.startswith(os.pardir + os.sep):
        return [], ["%s: layer %s reads %s, outside the project's folder: keep the files a project reads "
                    'beside or below it' % (label, layer_name, part)]
    if not os.path.isfile(src):
        return [], ['%s: layer %s reads %s, which is not a file on the controller' % (label, layer_name, part)]
    sources = shapefile_files(src) if src.lower().endswith('.shp') else [src]
    return [{'src': one, 'dest': os.path.relpath(one, folder).replace(os.sep, '/')} for one in sources], []


def files_hash(files):
    """sha256 over each file's dest name and bytes, in order."""
    return files_digest((one['dest'], one['src']) for one in files).hexdigest()


def describe_project(path, label):
    """(description without the name, errors) of an existing project file `path` (absolute)."""
    try:
        root = read_project(path)
    except NotAProject as error:
        return None, ['%s: path %s is not a QGIS project: %s' % (label, path, error)]
    folder, project_file = os.path.dirname(path), os.path.basename(path)
    layers, data_files, errors = [], {}, []
    for layer_id, layer_name, provider, datasource in project_layers(root):
        layers.append({'id': layer_id, 'name': layer_name, 'provider': provider})
        part = relative_file(provider, datasource)
        if part:
            found, layer_errors = layer_files(layer_name, part, folder, label)
            errors.extend(layer_errors)
            data_files.update((one['dest'], one) for one in found if one['dest'] != project_file)
    files = [{'src': path, 'dest': project_file}] + [data_files[dest] for dest in sorted(data_files)]
    return {'path': path, 'project_file': project_file, 'files': files, 'layers': layers}, errors


def entry_label(index, entry):
    """qgis_server_projects[<index>] (<name>), or without the name when it has none."""
    name = entry.get('name')
    if isinstance(name, str) and name:
        return 'qgis_server_projects[%d] (%s)' % (index, name)
    return 'qgis_server_projects[%d]' % index


def name_errors(entry, label, reserved):
    """The errors of an entry's keys and name."""
    errors = ['%s: unknown key %s (known: %s)' % (label, key, ', '.join(sorted(KEYS)))
              for key in sorted(set(entry) - KEYS, key=str)]
    name = entry.get('name')
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        errors.append('%s: name %r is not a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 63)'
                      % (label, name))
    elif name in reserved:
        errors.append('%s: name %s is reserved (%s)' % (label, name, reserved[name]))
    return errors


def project_path(entry, base_dir, label):
    """(absolute path of the entry's project file, errors): a .qgs or .qgz file."""
    path = entry.get('path')
    if path is None or path == '':
        return None, ['%s: path is missing (the .qgs or .qgz file, on the controller)' % label]
    if not isinstance(path, str):
        return None, ['%s: path must be a string, not %r' % (label, path)]
    path = os.path.abspath(os.path.join(base_dir, os.path.expanduser(path)))
    if not os.path.isfile(path):
        return None, ['%s: path %s is not a file on the controller' % (label, path)]
    if not path.lower().endswith(PROJECT_EXTENSIONS):
        return None, ['%s: path %s is not a QGIS project (.qgs or .qgz)' % (label, path)]
    return path, []


def read_entry(index, entry, base_dir, reserved):
    """One entry checked and described: (project, errors); project is None when it has errors."""
    if not isinstance(entry, dict):
        return None, ['qgis_server_projects[%d]: must be a mapping with name and path, not %r' % (index, entry)]
    label = entry_label(index, entry)
    errors = name_errors(entry, label, reserved)
    path, path_errors = project_path(entry, base_dir, label)
    errors.extend(path_errors)
    if path is None:
        return None, errors
    project, project_errors = describe_project(path, label)
    errors.extend(project_errors)
    if errors:
        return None, errors
    sha256 = files_hash(project['files'])
    return dict(project, name=entry['name'], sha256=sha256, folder=version_folder(entry['name'], sha256)), errors


def version_folder(name, sha256):
    """The project's folder on the hosts, named by its content: a new version goes into a
    folder of its own, which QGIS Server opens before it is served."""
    return '%s-%s' % (name, sha256[:12])


def read_projects(entries, base_dir, reserved=None):
    """Every entry of qgis_server_projects checked: (projects, errors), a description per
    good entry. `reserved` maps names that are taken (paths under /qgis/) to what takes them."""
    if not isinstance(entries, list):
        return [], ['qgis_server_projects: must be a list of {name, path}, not %r' % (entries,)]
    projects, errors, seen = [], [], {}
    for index, entry in enumerate(entries):
        project, project_errors = read_entry(index, entry, base_dir, reserved or {})
        errors.extend(project_errors)
        name = entry.get('name') if isinstance(entry, dict) else None
        if isinstance(name, str) and name in seen:
            errors.append('qgis_server_projects[%d] (%s): name %s is used twice (also qgis_server_projects[%d])'
                          % (index, name, name, seen[name]))
            project = None
        if isinstance(name, str):
            seen.setdefault(name, index)
        if project is not None:
            projects.append(project)
    return projects, errors
