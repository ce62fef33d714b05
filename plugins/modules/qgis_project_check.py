#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: qgis_project_check
short_description: Open each new version of a QGIS project with QGIS Server before it is served
version_added: 0.1.0
description:
  - Each project of O(projects) (as M(geostack.kargo.qgis_project_sources) describes it, already copied
    into O(projects_dir)/<folder>) that was not checked yet is opened by QGIS Server itself - its
    C(qgis_mapserv.fcgi) run once as a CGI program (a WMS GetCapabilities, bad layers not ignored) in a
    one-off container of O(image) on O(network), with the project's folder and O(pg_service_file), the
    way the QGIS Server service will open it.
  - A project whose layers QGIS Server cannot open fails the task, naming the project, the layers and the
    providers' reasons; every project is tried before it fails.
  - A project that opens gets a mark (O(checked_dir)/<folder>), so it is not opened again while its
    content (and so its folder) stays the same.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.docker_connection
requirements:
  - the docker CLI on the target
attributes:
  check_mode:
    support: full
    description: Reports the projects that would be opened, opens none (their files were not copied).
  diff_mode:
    support: none
  idempotent:
    support: full
    description: A project is opened once per version; a second run reports no change.
options:
  projects:
    description: The projects, each with C(name), C(folder), C(project_file) and C(layers) (C(id), C(name)).
    type: list
    elements: dict
    required: true
  image:
    description: The QGIS Server image.
    type: str
    required: true
  network:
    description: The network the database is reached on (the stack's back network).
    type: str
    required: true
  projects_dir:
    description: The folder holding a folder per project version on this host.
    type: path
    required: true
  mount:
    description: Where the service mounts O(projects_dir) (the project is opened at the same path).
    type: str
    default: /etc/qgis-server/projects
  pg_service:
    description:
      - The content of the pg_service file the project's PostGIS layers connect through (it holds the
        database password - never logged), given to the one-off container in a private file owned by O(uid).
    type: str
    required: true
  uid:
    description: The uid QGIS Server runs as in O(image) (the owner of the pg_service file).
    type: int
    default: 1000
  checked_dir:
    description: The folder of the marks of the projects that opened.
    type: path
    required: true
  prefix:
    description: The kargo_prefix, as a label of the one-off containers.
    type: str
    default: kargo
'''

EXAMPLES = r'''
- name: Open the new projects with QGIS Server before they are served
  geostack.kargo.qgis_project_check:
    projects: "{{ qgis_server_project_sources }}"
    image: geostack-kargo/qgis-server:0.1.0
    network: kargo-back
    projects_dir: /opt/kargo/qgis_server/projects
    pg_service: "{{ lookup('ansible.builtin.template', 'pg_service.conf.j2') }}"
    checked_dir: /opt/kargo/qgis_server/checked
'''

RETURN = r'''
checked:
  description: The projects opened by this run (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [parks]
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import CONNECTION_ARGS, DockerClient
from ansible_collections.geostack.kargo.plugins.module_utils.qgis_project_check import check_argv, verdict


def main():
    argument_spec = dict(
        projects=dict(type='list', elements='dict', required=True),
        image=dict(type='str', required=True),
        network=dict(type='str', required=True),
        projects_dir=dict(type='path', required=True),
        mount=dict(type='str', default='/etc/qgis-server/projects'),
        pg_service=dict(type='str', required=True, no_log=True),
        uid=dict(type='int', default=1000),
        checked_dir=dict(type='path', required=True),
        prefix=dict(type='str', default='kargo'),
    )
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    due = [project for project in params['projects']
           if not os.path.isfile(os.path.join(params['checked_dir'], project['folder']))]
    if module.check_mode or not due:
        module.exit_json(changed=bool(due), checked=[project['name'] for project in due])
    client = DockerClient(module)
    opened, failures = [], []
    pg_service_file = private_file(params['pg_service'], params['uid'])
    try:
        for project in due:
            _rc, output, log = client.run(check_argv(project, params['image'], params['network'], params['projects_dir'],
                                                     params['mount'], pg_service_file, params['prefix']), check=False)
            failure = verdict(project, output, log)
            if failure:
                failures.append(failure)
            else:
                mark(params['checked_dir'], project['folder'], params['image'])
                opened.append(project['name'])
    finally:
        os.unlink(pg_service_file)
    if failures:
        module.fail_json(msg='; '.join(failures), checked=opened)
    module.exit_json(changed=True, checked=opened)


def private_file(content, uid):
    """A temporary file holding `content`, readable by `uid` alone."""
    handle, path = tempfile.mkstemp(prefix='kargo-pg-service.')
    with os.fdopen(handle, 'w') as out:
        out.write(content)
    os.chmod(path, 0o400)
    os.chown(path, uid, uid)
    return path


def mark(checked_dir, folder, image):
    """The mark of a project version that opened."""
    if not os.path.isdir(checked_dir):
        os.makedirs(checked_dir, 0o755)
    with open(os.path.join(checked_dir, folder), 'w') as handle:
        handle.write('opened by %s\n' % image)

if __name__ == '__main__':
    main()
