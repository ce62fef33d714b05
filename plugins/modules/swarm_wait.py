#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: swarm_wait
short_description: Wait until the services of several swarm stacks have converged
version_added: 0.1.0
description:
  - Waits, all at once, for stacks deployed before by M(geostack.kargo.swarm_stack) with
    O(geostack.kargo.swarm_stack#module:wait=false), so that their rolling updates overlap and one task
    waits about as long as the slowest of them.
  - Converged means what M(geostack.kargo.swarm_stack) waits for; a service whose update is paused or
    rolled back, or whose tasks keep failing since its stack's deploy, fails the wait at once, naming the
    service and its stack, with its task errors and last log lines.
  - Then, for each stack that was deployed, removes the configs and secrets no service uses any more
    (the old tasks held them until they stopped).
  - In check mode it does not wait (a check-mode deploy starts nothing).
  - Must run on a swarm manager.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.docker_connection
requirements:
  - Docker SDK for Python 7.x on the target
attributes:
  check_mode:
    support: full
    description: Does not wait and removes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Changed only when it removed an old config or secret; a second run removes nothing.
options:
  stacks:
    description: The stacks to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Stack name, as given to M(geostack.kargo.swarm_stack).
        type: str
        required: true
      services:
        description: The names of the stack's services to wait for (without the stack prefix).
        type: list
        elements: str
        required: true
      deployed_at:
        description: M(geostack.kargo.swarm_stack)'s RV(geostack.kargo.swarm_stack#module:deployed_at);
          null when that task deployed nothing (then only recent task failures count).
        type: float
  wait_timeout:
    description: Seconds to wait before failing with the state and last log lines of the services not ready.
    type: int
    default: 300
seealso:
  - module: geostack.kargo.swarm_stack
'''

EXAMPLES = r'''
- name: Start two stacks' updates without waiting for each
  geostack.kargo.swarm_stack:
    name: "kargo-{{ item }}"
    files: ["/opt/kargo/{{ item }}/compose.yml", "/opt/kargo/{{ item }}/compose.swarm.yml"]
    resolve_image: never
    wait: false
  loop: [mapproxy, tileserver-gl]
  register: deployed

- name: Then wait for both at once
  geostack.kargo.swarm_wait:
    stacks:
      - name: kargo-mapproxy
        services: [mapproxy]
        deployed_at: "{{ deployed.results[0].deployed_at }}"
      - name: kargo-tileserver-gl
        services: [tileserver-gl]
        deployed_at: "{{ deployed.results[1].deployed_at }}"
    wait_timeout: 300
'''

RETURN = r'''
waited:
  description: Seconds spent waiting.
  returned: unless in check mode
  type: float
removed_objects:
  description: Per stack, the configs and secrets of older versions removed after the roll.
  returned: unless in check mode
  type: dict
  sample: {kargo-mapproxy: [config kargo-mapproxy_mapproxy_yaml_0f3c9a1b2c3d]}
stack_services:
  description: Per stack, its services once converged, with their spec version.
  returned: unless in check mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import (
    CONNECTION_ARGS, DockerClient, DockerCommandError)
from ansible_collections.geostack.kargo.plugins.module_utils.swarm_stack import (
    STACK_NAME, SwarmStack, wait_for_stacks)
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    argument_spec = dict(
        stacks=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            services=dict(type='list', elements='str', required=True),
            deployed_at=dict(type='float'),
        )),
        wait_timeout=dict(type='int', default=300),
    )
    argument_spec.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    for stack in params['stacks']:
        if not STACK_NAME.match(stack['name']):
            module.fail_json(msg="stacks: name '%s' is not a valid stack name: use letters, digits, '-' and '_'"
                                 % stack['name'])
    refuse_not_positive_seconds(module, 'wait_timeout')

    result = dict(changed=False)
    if module.check_mode:
        module.exit_json(**result)
    client = DockerClient(module)
    swarm = client.swarm_info()
    if swarm.get('LocalNodeState') != 'active' or not swarm.get('ControlAvailable'):
        module.fail_json(msg='swarm_wait must run on a swarm manager; this engine is %s'
                             % ('a worker' if swarm.get('LocalNodeState') == 'active' else 'not in a swarm'))
    stacks = [SwarmStack(client, stack['name'], None, service_names=stack['services'], deployed_at=stack['deployed_at'])
              for stack in params['stacks']]
    try:
        result['waited'] = round(wait_for_stacks(stacks, params['wait_timeout']), 2)
        result['removed_objects'] = dict((stack.name, stack.remove_unused_objects())
                                         for stack in stacks if stack.deployed_at is not None)
    except (DockerCommandError, ServiceFailure) as exc:
        module.fail_json(msg=str(exc), **result)
    result['changed'] = any(result['removed_objects'].values())
    result['stack_services'] = dict((stack.name, stack.service_summaries()) for stack in stacks)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
