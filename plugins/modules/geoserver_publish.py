#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: geoserver_publish
short_description: Publish the datasets loaded in PostGIS in GeoServer, through its REST API
version_added: 0.1.0
description:
  - Waits until GeoServer answers C(/rest/about/version.json), reads what workspace O(workspace) holds, plans what to
    create, update or delete, and (not in check mode) does it. Nothing is written when nothing differs.
  - "In O(workspace): the PostGIS datastore O(store) (made when there is a vector dataset; updated when its host, port,
    database, user or schema differ), one feature type per vector dataset (table O(database.schema).<name>; its title
    updated when it differs), one GeoTIFF coverage store and coverage per raster dataset (its COG in O(rasters_path);
    the store updated when the file differs)."
  - Feature types of O(store) and coverage stores of O(workspace) that are no dataset any more are deleted with their
    layers. Nothing outside O(workspace) is read or touched.
  - The datastore's password is not compared, as GeoServer never gives it back; a new database password alone does
    not update the store.
  - Fails at once when GeoServer refuses O(password) of O(user), and otherwise names the dataset and GeoServer's
    answer (status and the start of its body); never the passwords.
author:
  - geostack.kargo developers
attributes:
  check_mode:
    support: full
    description: Reads GeoServer and returns the plan (RV(actions)) without writing.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: A second run finds nothing to change (no POST, PUT or DELETE).
options:
  url:
    description: GeoServer's base URL, the REST API being under C(<url>/rest/) (e.g. C(https://127.0.0.1/geoserver)).
    type: str
    required: true
  host_header:
    description: C(Host) header sent with every request (the proxy routes by it); none when empty.
    type: str
    default: ''
  user:
    description: GeoServer's administrator.
    type: str
    default: admin
  password:
    description: The administrator's password.
    type: str
    required: true
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for GeoServer to answer its REST API before failing.
    type: int
    default: 300
  request_timeout:
    description: Seconds one request may take (GeoServer computes a layer's bounds when it is created).
    type: int
    default: 120
  workspace:
    description: The workspace of the datasets; the only one read or changed.
    type: str
    default: kargo
  store:
    description: Name of the PostGIS datastore in O(workspace).
    type: str
    default: kargo_postgis
  database:
    description:
      - The PostGIS database as GeoServer reaches it. Needed when O(layers) has a vector dataset.
    type: dict
    suboptions:
      host: {description: Host name (from GeoServer's container)., type: str, default: postgis}
      port: {description: Port., type: int, default: 5432}
      name: {description: Database name., type: str, required: true}
      user: {description: User GeoServer logs in as., type: str, required: true}
      password: {description: Its password., type: str, required: true, no_log: true}
      schema: {description: Schema of the datasets' tables., type: str, default: kargo_data}
  layers:
    description:
      - The datasets, as the datasets role describes them (C(datasets_layers)).
      - "Vector: C(name) (the table's name), C(kind=vector), C(title), C(srid) (C(srs) EPSG:<srid> when > 0)."
      - "Raster: C(name), C(kind=raster), C(title), C(cog) (its COG's file name in O(rasters_path))."
      - Other keys are ignored.
    type: list
    elements: dict
    default: []
  rasters_path:
    description: The folder of the COGs as GeoServer sees it (in its container).
    type: str
    default: /var/lib/kargo/rasters
'''

EXAMPLES = r'''
- name: Publish the datasets in GeoServer
  geostack.kargo.geoserver_publish:
    url: https://127.0.0.1/geoserver
    host_header: maps.example.org
    validate_certs: false
    user: admin
    password: "{{ geoserver_admin_password_value }}"
    database:
      name: kargo
      user: kargo
      password: "{{ kargo_db_password_value }}"
    layers: "{{ datasets_layers | default([]) }}"
'''

RETURN = r'''
actions:
  description: What was done (in check mode, what would be done), in order; empty when nothing differs.
  returned: always
  type: list
  elements: dict
  contains:
    action: {description: create, update or delete., type: str}
    kind: {description: workspace, datastore, featuretype, coveragestore or coverage., type: str}
    name: {description: Its name (the dataset's for feature types and coverages)., type: str}
    reason: {description: Why., type: str}
  sample:
    - {action: create, kind: featuretype, name: roads, reason: new vector dataset}
    - {action: update, kind: coveragestore, name: dem, reason: "file file:/var/lib/kargo/rasters/dem-1.tif -> ..."}
published:
  description: The names of the layers published in O(workspace) (once the actions are done).
  returned: always
  type: list
  elements: str
  sample: [dem, roads]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.geoserver_rest import GeoServerError, RestClient, publish
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str', required=True),
            host_header=dict(type='str', default=''),
            user=dict(type='str', default='admin'),
            password=dict(type='str', required=True, no_log=True),
            validate_certs=dict(type='bool', default=True),
            timeout=dict(type='int', default=300),
            request_timeout=dict(type='int', default=120),
            workspace=dict(type='str', default='kargo'),
            store=dict(type='str', default='kargo_postgis'),
            database=dict(type='dict', options=dict(
                host=dict(type='str', default='postgis'),
                port=dict(type='int', default=5432),
                name=dict(type='str', required=True),
                user=dict(type='str', required=True),
                password=dict(type='str', required=True, no_log=True),
                schema=dict(type='str', default='kargo_data'),
            )),
            layers=dict(type='list', elements='dict', default=[]),
            rasters_path=dict(type='str', default='/var/lib/kargo/rasters'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    refuse_not_positive_seconds(module, 'timeout', 'request_timeout')
    client = RestClient(params['url'], params['user'], params['password'],
                        headers={'Host': params['host_header']} if params['host_header'] else {},
                        validate_certs=params['validate_certs'], timeout=params['request_timeout'])
    try:
        actions, names = publish(client, params['workspace'], params['store'], params['layers'],
                                 database=params['database'], rasters_path=params['rasters_path'],
                                 timeout=params['timeout'], check_mode=module.check_mode)
    except (GeoServerError, ServiceFailure) as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=bool(actions), actions=actions, published=names)


if __name__ == '__main__':
    main()
