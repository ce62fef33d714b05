#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: swarm_stack
short_description: Deploy or remove a Docker Swarm stack, without deploying when nothing changed
version_added: 0.1.0
description:
  - Deploys a swarm stack from a base compose file plus swarm overlays (as C(docker stack deploy -c a -c b))
    and/or an inline definition, or removes it.
  - Each service gets a content fingerprint of its normalized definition, its image (when present on this
    engine) and every file it reads (configs, secrets, env files), stored as the service labels
    C(org.geostack.kargo.config-hash) and C(org.geostack.kargo.inputs). When every fingerprint matches
    what runs, C(docker stack deploy) is not called at all and the result is C(changed=false).
  - Configs and secrets read from files are named after their content
    (C(<stack>_<key>_<digest>)), so a changed file rolls the services using it (moby issue 35048);
    the versions no service uses any more are removed after the roll.
  - Waits until every service has its desired replicas running (and healthy where it has a healthcheck);
    on failure the error gives each failing service's task errors and last log lines.
  - Must run on a swarm manager.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.docker_connection
  - geostack.kargo.pending_changes
requirements:
  - Docker CLI on the target (C(docker stack deploy))
  - Docker SDK for Python 7.x on the target
attributes:
  check_mode:
    support: full
    description: Reports per service what would be created, updated or removed; changes nothing.
  diff_mode:
    support: full
    description: Before and after per service (fingerprint, inputs, replicas) with the action and its reasons.
  idempotent:
    support: full
    description: A second run with the same input deploys nothing and reports C(changed=false).
options:
  name:
    description: Stack name.
    type: str
    required: true
  state:
    description: V(present) deploys what changed; V(absent) removes the stack and returns once its services and networks are gone.
    type: str
    choices: [present, absent]
    default: present
  files:
    description:
      - Compose files, merged in this order (base file first, then swarm overlays).
      - Relative paths are resolved from the directory of the first file, as the docker CLI does.
    type: list
    elements: path
    default: []
  definition:
    description: An inline compose definition, merged after O(files).
    type: dict
  project_src:
    description: Directory relative paths are resolved from when only O(definition) is given.
    type: path
  prune:
    description: Remove services of the stack that the files no longer define.
    type: bool
    default: true
  resolve_image:
    description: Passed to C(docker stack deploy --resolve-image); V(never) for images that exist only on the nodes.
    type: str
    choices: [always, changed, never]
    default: always
  wait:
    description:
      - Wait until every service has its desired replicas running and healthy, then remove the configs and
        secrets of older versions.
      - With V(false) the deploy is only started; M(geostack.kargo.swarm_wait), given this task's
        RV(deployed_at), waits for it (with other stacks, their rolling updates overlapping) and removes them.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait (for convergence, or for removal with O(state=absent)).
    type: int
    default: 300
seealso:
  - module: geostack.kargo.compose_project
  - module: community.docker.docker_stack
'''

EXAMPLES = r'''
- name: Deploy MapProxy on the swarm, base file plus swarm overlay
  geostack.kargo.swarm_stack:
    name: kargo-mapproxy
    files:
      - /opt/kargo/mapproxy/compose.yml
      - /opt/kargo/mapproxy/compose.swarm.yml
    resolve_image: never

- name: Remove it
  geostack.kargo.swarm_stack:
    name: kargo-mapproxy
    state: absent
'''

RETURN = r'''
services:
  description: One entry per service with what was (or would be) done and why.
  returned: always
  type: list
  elements: dict
  sample: [{service: mapproxy, action: update, reasons: ["config:mapproxy_yaml changed"]}]
stack_services:
  description: The stack's services after the run, with their spec version.
  returned: when state is present and not in check mode
  type: list
  elements: dict
  sample: [{name: kargo-mapproxy_mapproxy, service: mapproxy, replicas: 2, version: 1234, config_hash: 0f3c...}]
removed_objects:
  description: Configs and secrets of older versions removed after the roll.
  returned: when the stack changed and was waited for
  type: list
  elements: str
deployed_at:
  description: When C(docker stack deploy) ran (seconds since the epoch), null when nothing was deployed;
    pass it to M(geostack.kargo.swarm_wait).
  returned: when state is present
  type: float
removed:
  description: With O(state=absent), what existed and was (or would be) removed, by kind.
  returned: when state is absent
  type: dict
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
  description: Seconds spent waiting for convergence.
  returned: when a deploy was waited for
  type: float
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.compose_model import ComposeError
from ansible_collections.geostack.kargo.plugins.module_utils.compose_sources import SOURCE_ARGS, ComposeSources
from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import (
    CONNECTION_ARGS, DockerClient, DockerCommandError)
from ansible_collections.geostack.kargo.plugins.module_utils.swarm_stack import STACK_NAME, SwarmStack
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        prune=dict(type='bool', default=True),
        resolve_image=dict(type='str', default='always', choices=['always', 'changed', 'never']),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )
    argument_spec.update(SOURCE_ARGS)
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    if not STACK_NAME.match(params['name']):
        module.fail_json(msg="name '%s' is not a valid stack name: use letters, digits, '-' and '_'" % params['name'])
    refuse_not_positive_seconds(module, 'wait_timeout')

    sources = None
    if params['state'] == 'present':
        try:
            sources = ComposeSources.from_params(params, module.check_mode)
        except ComposeError as exc:
            module.fail_json(msg=str(exc))

    client = DockerClient(module)
    swarm = client.swarm_info()
    if swarm.get('LocalNodeState') != 'active' or not swarm.get('ControlAvailable'):
        module.fail_json(msg='swarm_stack must run on a swarm manager; this engine is %s'
                             % ('a worker' if swarm.get('LocalNodeState') == 'active' else 'not in a swarm'))

    stack = SwarmStack(client, params['name'], sources, module.check_mode)
    result = dict(changed=False, services=[], commands=stack.commands)
    try:
        if params['state'] == 'absent':
            removed = stack.absent(params['wait_timeout'])
            result.update(changed=bool(removed), removed=removed)
            if module._diff:
                result['diff'] = dict(before=removed, after={})
        else:
            changes, diff = stack.present(params['resolve_image'], params['prune'])
            result.update(services=changes, changed=any(c['action'] != 'unchanged' for c in changes))
            sources.report_unread_pending(result, diff)
            if module._diff:
                result['diff'] = diff
            if params['wait'] and not module.check_mode:
                result['waited'] = round(stack.wait(params['wait_timeout']), 2)
                # the old configs are unused once the old tasks are gone
                if result['changed']:
                    result['removed_objects'] = stack.remove_unused_objects()
            # for geostack.kargo.swarm_wait: which failed tasks are this deploy's
            result['deployed_at'] = stack.deployed_at
            if not module.check_mode:
                result['stack_services'] = stack.service_summaries()
    except (ComposeError, DockerCommandError, ServiceFailure) as exc:
        result['msg'] = str(exc)
        module.fail_json(**result)
    finally:
        if sources:
            sources.cleanup()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
