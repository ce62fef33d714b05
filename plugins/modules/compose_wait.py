#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: compose_wait
short_description: Wait until the services of several Compose v2 projects are running and healthy
version_added: 0.1.0
description:
  - Waits, all at once, for projects deployed before by M(geostack.kargo.compose_project) with
    O(geostack.kargo.compose_project#module:wait=false), so that their start-ups overlap and one
    task waits about as long as the slowest of them.
  - Ready means every service has its replicas running, and healthy where it has a healthcheck; a service
    that exits or gets unhealthy fails the wait at once.
  - On failure the error names each service not ready and its project, with its last health check output
    and log lines, as M(geostack.kargo.compose_project) does.
  - Changes nothing. In check mode it does not wait (a check-mode deploy starts nothing).
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.docker_connection
requirements:
  - Docker SDK for Python 7.x on the target
attributes:
  check_mode:
    support: full
    description: Reads the compose files, does not wait.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Only reads; never changed.
options:
  projects:
    description: The projects to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Compose project name, as given to M(geostack.kargo.compose_project).
        type: str
        required: true
      files:
        description: The project's compose files (the services and replicas to wait for are read from them).
        type: list
        elements: path
        required: true
  wait_timeout:
    description: Seconds to wait before failing with the state and last log lines of the services not ready.
    type: int
    default: 120
seealso:
  - module: geostack.kargo.compose_project
'''

EXAMPLES = r'''
- name: Start two services without waiting for each
  geostack.kargo.compose_project:
    project_name: "kargo-{{ item }}"
    files: ["/opt/kargo/{{ item }}/compose.yml"]
    wait: false
  loop: [mapproxy, tileserver_gl]

- name: Then wait for both at once
  geostack.kargo.compose_wait:
    projects:
      - {name: kargo-mapproxy, files: [/opt/kargo/mapproxy/compose.yml]}
      - {name: kargo-tileserver_gl, files: [/opt/kargo/tileserver_gl/compose.yml]}
    wait_timeout: 180
'''

RETURN = r'''
waited:
  description: Seconds spent waiting.
  returned: unless in check mode
  type: float
containers:
  description: Each project's containers once ready, by project name.
  returned: unless in check mode
  type: dict
  sample:
    kargo-mapproxy: [{name: kargo-mapproxy-mapproxy-1, service: mapproxy, state: running, health: healthy, id: 3f2a1b9c0d1e}]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError
from ansible_collections.geostack.kargo.plugins.module_utils.compose_project import (
    PROJECT_NAME, ComposeProject, wait_for_projects)
from ansible_collections.geostack.kargo.plugins.module_utils.compose_sources import ComposeSources
from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import (
    CONNECTION_ARGS, DockerClient, DockerCommandError)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    argument_spec = dict(
        projects=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            files=dict(type='list', elements='path', required=True),
        )),
        wait_timeout=dict(type='int', default=120),
    )
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    for project in params['projects']:
        if not PROJECT_NAME.match(project['name']):
            module.fail_json(msg="projects: name '%s' is not a valid project name" % project['name'])
        for path in project['files']:
            if not os.path.isfile(path):
                module.fail_json(msg="projects: compose file %s of project '%s' does not exist" % (path, project['name']))
    refuse_not_positive_seconds(module, 'wait_timeout')
    client = DockerClient(module)
    try:
        projects = [ComposeProject(client, project['name'], ComposeSources(project['files'], None, None))
                    for project in params['projects']]
    except ComposeError as exc:
        module.fail_json(msg=str(exc))

    result = dict(changed=False)
    if not module.check_mode:
        try:
            result['waited'] = round(wait_for_projects(projects, params['wait_timeout']), 2)
        except (DockerCommandError, ServiceFailure) as exc:
            module.fail_json(msg=str(exc), **result)
        result['containers'] = dict((project.name, project.container_summaries()) for project in projects)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
