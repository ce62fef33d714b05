#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: compose_project
short_description: Deploy, stop, restart or remove a Docker Compose v2 project, only when something changed
version_added: 0.1.0
description:
  - Manages a Compose v2 project made of a base compose file plus overlays, merged in order as
    C(docker compose -f a -f b) does, and/or an inline definition.
  - Before deploying, every service gets a content fingerprint of its normalized definition, its image ID
    and the content of every host file it reads (bind-mounted files, read-only bind-mounted directories,
    configs, secrets, env files). The fingerprint is stored as container labels
    C(org.geostack.kargo.config-hash) and C(org.geostack.kargo.inputs). When all fingerprints match what
    runs, nothing is called (C(changed=false)); when a bind-mounted settings file changes, only the
    services using it are recreated (which compose alone does not do, compose issue 11900).
  - Waits until every service is running and, where it has a healthcheck, healthy; on failure the error
    names the service and shows its last log lines.
  - All input is read and validated before the engine is touched.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.docker_connection
  - geostack.kargo.pending_changes
requirements:
  - Docker CLI with the Compose v2 plugin (C(docker compose)) on the target
  - Docker SDK for Python 7.x on the target
attributes:
  check_mode:
    support: full
    description: Reports per service what would be created, recreated, started or removed; changes nothing.
  diff_mode:
    support: full
    description: Before and after per service (fingerprint, inputs, replicas) with the action and its reasons.
  idempotent:
    support: partial
    description: C(present), C(stopped) and C(absent) are idempotent; C(restarted) restarts on every run.
options:
  project_name:
    description: Compose project name (lower-case letters, digits, C(-) and C(_)).
    type: str
    required: true
  files:
    description:
      - Compose files, merged in this order (base file first, then overlays).
      - Relative paths are resolved from O(project_src).
    type: list
    elements: path
    default: []
  definition:
    description: An inline compose definition, merged after O(files).
    type: dict
  project_src:
    description:
      - Project directory; relative paths in the compose files are resolved from it.
      - Defaults to the directory of the first file. Required with O(definition) and no O(files).
    type: path
  state:
    description:
      - V(present) creates and starts what is missing or changed.
      - V(stopped) creates what is missing or changed and stops every container.
      - V(restarted) does what V(present) does, then restarts every container (always changed).
      - V(absent) removes containers and networks (and volumes with O(remove_volumes)).
    type: str
    choices: [present, stopped, restarted, absent]
    default: present
  remove_volumes:
    description: With O(state=absent), remove the project's named volumes too.
    type: bool
    default: false
  remove_orphans:
    description: Remove containers of services no longer defined.
    type: bool
    default: true
  pull:
    description: Pull images that are not on the engine (V(missing)), or never pull (V(never)).
    type: str
    choices: [missing, never]
    default: missing
  wait:
    description: Wait until every service is running, and healthy where it has a healthcheck.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait before failing with the state and last log lines of the services not ready.
    type: int
    default: 120
notes:
  - Writable bind-mounted directories count as data and are not fingerprinted.
seealso:
  - module: geostack.kargo.swarm_stack
  - module: community.docker.docker_compose_v2
'''

EXAMPLES = r'''
- name: Deploy MapProxy from its base compose file
  geostack.kargo.compose_project:
    project_name: kargo-mapproxy
    files:
      - /opt/kargo/mapproxy/compose.yml
    wait_timeout: 180

- name: A small inline project
  geostack.kargo.compose_project:
    project_name: demo
    project_src: /opt/demo
    definition:
      services:
        web:
          image: nginx:1.27
          volumes:
            - ./nginx.conf:/etc/nginx/nginx.conf:ro

- name: Remove it, volumes included
  geostack.kargo.compose_project:
    project_name: demo
    state: absent
    remove_volumes: true
'''

RETURN = r'''
services:
  description: One entry per service with what was (or would be) done and why.
  returned: always
  type: list
  elements: dict
  sample:
    - service: mapproxy
      action: recreate
      reasons: ["volume:./mapproxy.yaml changed"]
    - service: cache
      action: unchanged
      reasons: []
containers:
  description: The project's containers after the run.
  returned: when state is not absent and not in check mode
  type: list
  elements: dict
  sample: [{name: kargo-mapproxy-mapproxy-1, service: mapproxy, state: running, health: healthy, id: 3f2a1b9c0d1e}]
removed:
  description: With O(state=absent), what existed and was (or would be) removed, by kind.
  returned: when state is absent
  type: dict
  sample: {containers: [demo-web-1], networks: [demo_default]}
unread_pending:
  description: In check mode, the O(pending) files that no service reads and that are no compose file of this project;
    a change to them restarts nothing.
  returned: in check mode, when there are such files
  type: list
  elements: str
reloaded_pending:
  description: In check mode, the O(pending) files in a bind mount that the service's label
    C(org.geostack.kargo.reloaded-mounts) names; its role applies a change to them with a reload, nothing restarts.
  returned: in check mode, when there are such files
  type: list
  elements: str
commands:
  description: The docker CLI commands that were run.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds spent waiting for the services to be ready.
  returned: when O(wait) is true and the services were waited for
  type: float
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError
from ansible_collections.geostack.kargo.plugins.module_utils.compose_project import PROJECT_NAME, ComposeProject
from ansible_collections.geostack.kargo.plugins.module_utils.compose_sources import SOURCE_ARGS, ComposeSources
from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import (
    CONNECTION_ARGS, DockerClient, DockerCommandError)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    argument_spec = dict(
        project_name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'stopped', 'restarted', 'absent']),
        remove_volumes=dict(type='bool', default=False),
        remove_orphans=dict(type='bool', default=True),
        pull=dict(type='str', default='missing', choices=['missing', 'never']),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=120),
    )
    argument_spec.update(SOURCE_ARGS)
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    state = params['state']

    if not PROJECT_NAME.match(params['project_name']):
        module.fail_json(msg="project_name '%s' is not valid: use lower-case letters, digits, '-' and '_', "
                             "starting with a letter or digit" % params['project_name'])
    refuse_not_positive_seconds(module, 'wait_timeout')

    sources = None
    if state != 'absent':
        try:
            sources = ComposeSources.from_params(params, module.check_mode)
        except ComposeError as exc:
            module.fail_json(msg=str(exc))

    project = ComposeProject(DockerClient(module), params['project_name'], sources, module.check_mode)
    result = dict(changed=False, services=[], commands=project.commands)
    try:
        if state == 'absent':
            removed = project.absent(params['remove_volumes'])
            result.update(changed=bool(removed), removed=removed)
            if module._diff:
                result['diff'] = dict(before=removed, after={})
        else:
            changes, diff = project.present(params['pull'], params['remove_orphans'], start=state != 'stopped')
            result.update(services=changes, changed=any(c['action'] != 'unchanged' for c in changes))
            sources.report_unread_pending(result, diff)
            if module._diff:
                result['diff'] = diff
            if state == 'stopped':
                result['changed'] = project.stop() or result['changed']
            elif state == 'restarted':
                project.restart()
                result['changed'] = True
            if params['wait'] and state != 'stopped' and not module.check_mode:
                result['waited'] = round(project.wait(params['wait_timeout']), 2)
            if not module.check_mode:
                result['containers'] = project.container_summaries()
    except (ComposeError, DockerCommandError, ServiceFailure) as exc:
        result['msg'] = str(exc)
        module.fail_json(**result)
    finally:
        if sources:
            sources.cleanup()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
