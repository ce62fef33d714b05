# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A QGIS project opened by QGIS Server itself before it is served: qgis_mapserv.fcgi run
once as a CGI program (a GetCapabilities) in a one-off container of the QGIS Server image,
on the database's network, with the project's folder and the pg_service file. With bad
layers not ignored, QGIS answers 500 and logs the ids of the layers it could not open,
after the providers' own reasons; this turns that into a message naming the project, its
layers and the reasons."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

CHECK_REQUEST = 'SERVICE=WMS&REQUEST=GetCapabilities'
CGI_PROGRAM = '/usr/lib/cgi-bin/qgis_mapserv.fcgi'
PG_SERVICE_FILE = '/etc/qgis-server/pg_service.conf'
# "Error, Layer(s) a_1, b_2 not valid in project /etc/.../map.qgs"
BAD_LAYERS = re.compile(r'Layer\(s\) (.+?) not valid in project ')
# "04:32:50 WARNING PostGIS[1]: Connection to database failed"
LOG_LINE = re.compile(r'^\d\d:\d\d:\d\d (INFO|WARNING|CRITICAL) ([^\[]*)\[\d+\]: ?(.*)$')
# QGIS Server's own lines; the others (PostGIS, OGR, GDAL ...) are the providers' reasons
SERVER_SOURCES = ('Server', 'FCGIServer')


def check_argv(project, image, network, projects_dir, mount, pg_service_file, prefix):
    """`docker` arguments that open `project` (a qgis_project_sources description) in a
    one-off container, as its QGIS Server would (its folder at the same place)."""
    folder = '%s/%s' % (mount, project['folder'])
    return ['run', '--rm', '--network', network, '--label', 'org.geostack.kargo.prefix=%s' % prefix,
            '--volume', '%s/%s:%s:ro' % (projects_dir, project['folder'], folder),
            '--volume', '%s:%s:ro' % (pg_service_file, PG_SERVICE_FILE),
            '--env', 'QGIS_PROJECT_FILE=%s/%s' % (folder, project['project_file']),
            '--env', 'QUERY_STRING=' + CHECK_REQUEST, '--env', 'REQUEST_METHOD=GET',
            '--env', 'QGIS_SERVER_IGNORE_BAD_LAYERS=false', '--env', 'QGIS_SERVER_LOG_LEVEL=1',
            '--entrypoint', CGI_PROGRAM, image]


def cgi_answer(output):
    """(status, body) of a CGI program's output: its headers up to a blank line, a Status
    header or 200."""
    head, _, body = output.replace('\r\n', '\n').partition('\n\n')
    status = 200
    for line in head.splitlines():
        name, _, value = line.partition(':')
        if name.strip().lower() == 'status' and value.strip()[:3].isdigit():
            status = int(value.strip()[:3])
    return status, body


def provider_reasons(log):
    """The providers' warnings in QGIS Server's log, each with its continuation lines, once each."""
    reasons, current = [], None
    for line in log.splitlines():
        match = LOG_LINE.match(line)
        if match:
            current = None
            level, source, text = match.groups()
            if level != 'INFO' and source.strip() not in SERVER_SOURCES:
                current = [text.strip()]
                reasons.append(current)
        elif current is not None and line.strip():
            current.append(line.strip())
    unique = []
    for parts in reasons:
        text = ' '.join(part for part in parts if part)
        if text and text not in unique:
            unique.append(text)
    return unique


def bad_layer_names(log, layers):
    """The names of the layers QGIS Server's log says it could not open (by id), in project order."""
    ids = set()
    for match in BAD_LAYERS.finditer(log):
        ids.update(one.strip() for one in match.group(1).split(','))
    return [layer['name'] for layer in layers if layer['id'] in ids]


def verdict(project, output, log):
    """None when QGIS Server served the project's capabilities, else what is wrong with it."""
    status, body = cgi_answer(output)
    if status == 200 and 'WMS_Capabilities' in body:
        return None
    label = 'qgis_server_projects (%s)' % project['name']
    names = bad_layer_names(log, project['layers'])
    reasons = provider_reasons(log)
    if names:
        return '%s: QGIS Server cannot open its layer%s %s%s' % (
            label, 's' if len(names) > 1 else '', ', '.join(names), (': ' + '; '.join(reasons)) if reasons else '')
    return '%s: QGIS Server answers %d to a GetCapabilities of it: %s%s' % (
        label, status, ' '.join(body.split())[:300], (' (%s)' % '; '.join(reasons)) if reasons else '')
