#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: dataset_sources
short_description: Check the kargo_datasets entries and describe their files, on the controller
version_added: 0.1.0
description:
  - Each entry of O(datasets) is checked where its files are, on the controller - a lower-case
    identifier as C(name), used once; C(path) a file of a kind it publishes (GeoPackage, Shapefile with
    its C(.dbf) and C(.shx) or zipped, GeoJSON, FlatGeobuf, CSV); C(srs) an authority code; C(style) a QGIS
    QML file with a C(<renderer-v2>).
  - "Every bad entry is reported at once, as C(kargo_datasets[<index>] (<name>): <why>)."
  - Each good entry is described - its files (a Shapefile's sidecars too), the path GDAL opens in the
    loader's container, and a sha256 of the files' bytes and of the load options (C(layer), C(srs)), so
    that a dataset is reloaded only when it changes.
  - Runs on the controller only (an action plugin); this file holds its documentation.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.controller_check
options:
  datasets:
    description: The entries, each C({name, path}) with optional C(layer), C(title), C(srs), C(style), C(state).
    type: list
    elements: raw
    required: true
  base_dir:
    description: Folder relative paths are read from (the inventory's).
    type: path
    default: .
  reserved:
    description: Names no dataset may take, each mapped to what takes it.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Check the datasets before anything is loaded
  geostack.kargo.dataset_sources:
    datasets: "{{ kargo_datasets }}"
    base_dir: "{{ inventory_dir }}"
    reserved: {countries: the sample layer}
'''

RETURN = r'''
datasets:
  description: One description per entry, in order.
  returned: success
  type: list
  elements: dict
  sample:
    - {name: roads, state: present, kind: vector, layer: "", srs: "", title: Roads, renderer: "",
       files: [/data/roads.shp, /data/roads.dbf, /data/roads.shx], source: /data/roads/roads.shp,
       sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
    - {name: dem, state: present, kind: raster, layer: "", srs: "", title: dem, renderer: "",
       files: [/data/dem.tif], source: /data/dem/dem.tif, cog: dem-60303ae22b99.tif,
       sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}
errors:
  description: One line per bad entry.
  returned: always
  type: list
  elements: str
  sample: ["kargo_datasets[1] (Roads): name 'Roads' is not a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 63)"]
'''
