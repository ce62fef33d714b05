# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kargo_datasets entries read on the controller: each checked (name, file, kind, srs,
style), its files listed (a Shapefile's sidecars), their content hashed with the load
options, so that a dataset is reloaded only when what it would load changed. Every bad
entry is reported at once, naming the dataset and the reason.

A vector dataset is loaded into a PostGIS table; a raster one is made a Cloud-Optimized
GeoTIFF named after its hash (`cog`: <name>-<sha256[:12]>.tif), which QGIS Server reads
from the folder its role mounts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import xml.etree.ElementTree as ElementTree

NAME_PATTERN = re.compile(r'^[a-z][a-z0-9_]{0,62}$')
SRS_PATTERN = re.compile(r'^[A-Za-z]+:[0-9]+$')
KEYS = frozenset(('name', 'path', 'layer', 'title', 'srs', 'style', 'state'))
# What GDAL reads each extension as; a .zip holds a Shapefile (read through /vsizip/).
VECTOR_EXTENSIONS = ('.gpkg', '.shp', '.zip', '.geojson', '.json', '.fgb', '.csv')
RASTER_EXTENSIONS = ('.tif', '.tiff', '.jp2', '.img', '.asc')
# the element of a QML style that holds a layer's symbology, by kind of dataset
QML_SYMBOLOGY = {'vector': 'renderer-v2', 'raster': 'pipe'}
SHAPEFILE_NEEDS = ('.dbf', '.shx')
# Load options whose change reloads a dataset (title and style are only published).
LOAD_OPTIONS = ('layer', 'srs')


def shapefile_files(path):
    """The .shp and its sidecars (same stem, any case of extension), sorted."""
    folder, stem = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0]
    return sorted(os.path.join(folder, name) for name in os.listdir(folder or '.')
                  if os.path.splitext(name)[0] == stem and os.path.isfile(os.path.join(folder, name)))


def files_digest(named_files):
    """A sha256 object fed each (name, path)'s name and the file's bytes, in order."""
    digest = hashlib.sha256()
    for name, path in named_files:
        digest.update(name.encode('utf-8') + b'\0')
        with open(path, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
        digest.update(b'\0')
    return digest


def content_hash(files, options):
    """sha256 over each file's name and bytes, then the load options (as JSON)."""
    digest = files_digest((os.path.basename(path), path) for path in files)
    digest.update(json.dumps(options, sort_keys=True).encode('utf-8'))
    return digest.hexdigest()


def gdal_source(name, basename):
    """The path GDAL opens in the loader's container, where the files of dataset `name`
    are in /data/<name>/."""
    inside = '/data/%s/%s' % (name, basename)
    return '/vsizip/' + inside if basename.lower().endswith('.zip') else inside


def qml_renderer(path, kind='vector'):
    """The symbology of a QML style file (<renderer-v2> for a vector layer, <pipe> for a
    raster), as XML text; ValueError saying why not."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise ValueError('is not XML (%s)' % error)
    if root.tag != 'qgis':
        raise ValueError('is not a QGIS style (its root element is <%s>, not <qgis>)' % root.tag)
    renderer = root.find(QML_SYMBOLOGY[kind])
    if renderer is None:
        raise ValueError('has no <%s> (no symbology of a %s layer to apply)' % (QML_SYMBOLOGY[kind], kind))
    return ElementTree.tostring(renderer, encoding='unicode')


def _text_option(entry, key, errors, label):
    value = entry.get(key, '')
    if value is None:
        value = ''
    if not isinstance(value, str):
        errors.append('%s: %s must be a string, not %r' % (label, key, value))
        return ''
    return value


def read_entry(index, entry, base_dir, reserved):
    """One entry checked and described: (dataset, errors)."""
    if not isinstance(entry, dict):
        return None, ['kargo_datasets[%d]: must be a mapping with name and path, not %r' % (index, entry)]
    name = entry.get('name')
    label = 'kargo_datasets[%d] (%s)' % (index, name) if isinstance(name, str) and name else 'kargo_datasets[%d]' % index
    errors = ['%s: unknown key %s (known: %s)' % (label, key, ', '.join(sorted(KEYS)))
              for key in sorted(set(entry) - KEYS, key=str)]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        errors.append('%s: name %r is not a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 63)'
                      % (label, name))
    elif name in reserved:
        errors.append('%s: name %s is taken by %s' % (label, name, reserved[name]))
    state = entry.get('state', 'present')
    if state not in ('present', 'absent'):
        errors.append('%s: state %r is not present or absent' % (label, state))
    options = dict((key, _text_option(entry, key, errors, label)) for key in ('path', 'layer', 'title', 'srs', 'style'))
    dataset = {'name': name, 'state': state, 'layer': options['layer'], 'srs': options['srs'],
               'title': options['title'] or name, 'renderer': '', 'kind': 'vector'}
    if state == 'absent':
        return dataset, errors
    if options['srs'] and not SRS_PATTERN.match(options['srs']):
        errors.append('%s: srs %s is not an authority code like EPSG:3857' % (label, options['srs']))
    path = options['path']
    if not path:
        errors.append('%s: path is missing (the file to publish, on the controller)' % label)
        return dataset, errors
    path = os.path.join(base_dir, os.path.expanduser(path))
    extension = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        errors.append('%s: path %s is not a file on the controller' % (label, path))
        return dataset, errors
    if extension not in VECTOR_EXTENSIONS + RASTER_EXTENSIONS:
        errors.append('%s: %s is not a file kind it publishes (%s)'
                      % (label, path, ', '.join(VECTOR_EXTENSIONS + RASTER_EXTENSIONS)))
        return dataset, errors
    kind = dataset['kind'] = 'raster' if extension in RASTER_EXTENSIONS else 'vector'
    if kind == 'raster' and options['layer']:
        errors.append('%s: layer %s: a raster has bands, not layers (layer is for vector files)'
                      % (label, options['layer']))
    files = shapefile_files(path) if extension == '.shp' else [path]
    if extension == '.shp':
        present = set(os.path.splitext(one)[1].lower() for one in files)
        missing = [needed for needed in SHAPEFILE_NEEDS if needed not in present]
        if missing:
            errors.append('%s: the Shapefile %s has no %s beside it' % (label, path, ' or '.join(missing)))
    if options['style']:
        style = os.path.join(base_dir, os.path.expanduser(options['style']))
        if not os.path.isfile(style):
            errors.append('%s: style %s is not a file on the controller' % (label, style))
        else:
            try:
                dataset['renderer'] = qml_renderer(style, kind)
            except ValueError as error:
                errors.append('%s: style %s %s' % (label, style, error))
    if errors:
        return dataset, errors
    dataset.update({
        'files': files,
        'source': gdal_source(name, os.path.basename(path)),
        'sha256': content_hash(files, dict((key, options[key]) for key in LOAD_OPTIONS)),
    })
    if kind == 'raster':
        dataset['cog'] = '%s-%s.tif' % (name, dataset['sha256'][:12])
    return dataset, errors


def read_datasets(entries, base_dir, reserved=None):
    """Every entry of kargo_datasets checked: (datasets, errors). `reserved` maps names
    that are taken (the sample layer) to what takes them."""
    if not isinstance(entries, list):
        return [], ['kargo_datasets: must be a list of {name, path} entries, not %r' % (entries,)]
    datasets, errors, seen = [], [], {}
    for index, entry in enumerate(entries):
        dataset, entry_errors = read_entry(index, entry, base_dir, reserved or {})
        errors.extend(entry_errors)
        if dataset is None:
            continue
        name = dataset['name']
        if isinstance(name, str) and name in seen:
            errors.append('kargo_datasets[%d] (%s): name %s is used twice (also kargo_datasets[%d])'
                          % (index, name, name, seen[name]))
        seen.setdefault(name, index)
        datasets.append(dataset)
    return datasets, errors


def qgis_layer(layer, sources, pg_service, schema, rasters_mount):
    """A loaded dataset (kargo-data's description of its table or raster) as QGIS Server's
    project needs it: a stable layer id, the connection through the pg_service name (a
    raster: its COG in `rasters_mount`), the renderer of its QML style (`sources`:
    dataset_sources' descriptions) and a colour made from its name (for the default symbol)."""
    digest = hashlib.md5(layer['name'].encode('utf-8')).hexdigest()
    renderer = ''.join(source.get('renderer', '') for source in sources if source.get('name') == layer['name'])
    if layer.get('kind') == 'raster':
        return dict(layer, id='%s_%s' % (layer['name'], digest[:24]), datasource='%s/%s' % (rasters_mount, layer['cog']),
                    renderer=renderer)
    datasource = ("service='%s' sslmode=disable key='fid' srid=%d type=%s checkPrimaryKeyUnicity='0' "
                  'table="%s"."%s" (geom)' % (pg_service, int(layer['srid']), layer['qgis_wkb_type'], schema, layer['name']))
    return dict(layer, id='%s_%s' % (layer['name'], digest[:24]), datasource=datasource, renderer=renderer,
                colour=layer_colour(layer['name']))


def seed_ids(sources, seed_settings):
    """{dataset name: what its cached tiles are made from, hashed}: its files and load
    options (sha256), its style, and the cache's settings."""
    return dict((source['name'], hashlib.sha256(json.dumps(
        [source.get('sha256', ''), source.get('renderer', ''), seed_settings], sort_keys=True).encode('utf-8')).hexdigest())
        for source in sources if source.get('state', 'present') == 'present')


def layer_colour(name):
    """The colour of a dataset without a style, the same in QGIS Server and the vector style."""
    return hashlib.md5(name.encode('utf-8')).hexdigest()[:6]


def tileserver_style(layer):
    """The MapLibre style of a dataset's vector tiles (source and source-layer: its name),
    drawn in its colour; no text (the image ships no glyphs)."""
    name, colour = layer['name'], '#' + layer_colour(layer['name'])
    west, south, east, north = layer['extent']
    kind = layer['qgis_geometry']
    if kind == 'Polygon':
        drawn = [{'id': name + '-fill', 'type': 'fill', 'paint': {'fill-color': colour, 'fill-opacity': 0.8}},
                 {'id': name + '-outline', 'type': 'line', 'paint': {'line-color': '#282828', 'line-width': 1}}]
    elif kind == 'Line':
        drawn = [{'id': name + '-line', 'type': 'line', 'layout': {'line-join': 'round'},
                  'paint': {'line-color': colour, 'line-width': 3}}]
    else:
        drawn = [{'id': name + '-circle', 'type': 'circle',
                  'paint': {'circle-color': colour, 'circle-radius': 6, 'circle-stroke-color': '#282828',
                            'circle-stroke-width': 1}}]
    for one in drawn:
        one.update({'source': name, 'source-layer': name})
    return {'version': 8, 'name': layer.get('title') or name, 'metadata': {'geostack.kargo': 'dataset ' + name},
            'center': [(west + east) / 2.0, (south + north) / 2.0], 'zoom': 10,
            'sources': {name: {'type': 'vector', 'url': 'mbtiles://{%s}' % name}}, 'layers': drawn}


def tileserver_entries(layers):
    """TileServer GL's config.json entries of the datasets: a style and a data source each."""
    styles, data = {}, {}
    for layer in layers:
        west, south, east, north = layer['extent']
        styles[layer['name']] = {'style': layer['name'] + '.json', 'serve_rendered': False,
                                 'tilejson': {'bounds': [west, south, east, north]}}
        data[layer['name']] = {'mbtiles': layer['name'] + '.mbtiles'}
    return {'styles': styles, 'data': data}


def tileserver_style_files(layers):
    """render_files entries of the datasets' styles: styles/<name>.json."""
    return [{'path': 'styles/%s.json' % layer['name'], 'content': json.dumps(tileserver_style(layer), indent=2) + '\n'}
            for layer in layers]
