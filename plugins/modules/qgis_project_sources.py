#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: qgis_project_sources
short_description: Check the qgis_server_projects entries and describe their files, on the controller
version_added: 0.1.0
description:
  - Each entry of O(projects) is checked where its files are, on the controller - a lower-case
    identifier as C(name) (QGIS Server serves the project at C(/qgis/<name>/)), used once and not
    reserved; C(path) a QGIS project, a C(.qgs) file (XML whose root element is C(<qgis>)) or a C(.qgz)
    (a zip archive holding one such C(.qgs) at its top level).
  - The files its C(ogr) and C(gdal) layers read by a relative path must be files beside or below the
    project's folder (a Shapefile brings its sidecars); absolute paths, URLs, C(/vsi...) paths and other
    providers (C(postgres), C(wms)...) read no file from the controller and are left to QGIS Server.
  - "Every bad entry is reported at once, as C(qgis_server_projects[<index>] (<name>): <why>)."
  - Each good entry is described - its layers (name and provider), its files (the project file first,
    then the data files, each with its path relative to the project's folder) and a sha256 of the files'
    names and bytes, so that a project is copied again only when it changes.
  - Runs on the controller only (an action plugin); this file holds its documentation.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.controller_check
options:
  projects:
    description: The entries, each C({name, path}).
    type: list
    elements: raw
    required: true
  base_dir:
    description: Folder relative project paths are read from (the inventory's).
    type: path
    default: .
  reserved:
    description: Names no project may take (paths QGIS Server already serves under C(/qgis/)), each mapped to what takes it.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Check the QGIS projects before anything is copied
  geostack.kargo.qgis_project_sources:
    projects: "{{ qgis_server_projects }}"
    base_dir: "{{ inventory_dir }}"
    reserved: {wfs3: OGC API Features of the default project}
'''

RETURN = r'''
projects:
  description: One description per entry, in order.
  returned: success
  type: list
  elements: dict
  sample:
    - name: parks
      path: /inventory/projects/parks.qgs
      project_file: parks.qgs
      files:
        - {src: /inventory/projects/parks.qgs, dest: parks.qgs}
        - {src: /inventory/projects/data/rivers.dbf, dest: data/rivers.dbf}
        - {src: /inventory/projects/data/rivers.shp, dest: data/rivers.shp}
        - {src: /inventory/projects/data/rivers.shx, dest: data/rivers.shx}
        - {src: /inventory/projects/places.gpkg, dest: places.gpkg}
      layers:
        - {name: roads, provider: postgres}
        - {name: lakes, provider: ogr}
        - {name: rivers, provider: ogr}
      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
errors:
  description: One line per error, every reason of every bad entry.
  returned: always
  type: list
  elements: str
  sample: ["qgis_server_projects[0] (parks): layer lakes reads ../lakes.gpkg, outside the project's folder: keep the files a project reads beside or below it"]
'''
