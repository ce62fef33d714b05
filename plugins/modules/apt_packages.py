#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: apt_packages
short_description: Install missing Debian packages, refreshing the package lists when they cannot be trusted
version_added: 0.1.0
description:
  - Asks dpkg which of O(name) are installed. When all are, nothing else runs (no C(apt-get update)).
  - When some are missing, runs C(apt-get update) first if the package lists cannot be trusted, then
    C(apt-get install) of the missing ones only.
  - The lists cannot be trusted when there are none (a host whose lists were cleaned, as minimal and
    container-made images do), when a wanted package has no candidate in them, when an apt source is newer
    than the last update, or when the last update is older than O(cache_valid_time) or unknown.
    M(ansible.builtin.apt) takes a just-emptied C(/var/lib/apt/lists) for a fresh cache and fails with
    C(No package matching).
  - After a successful update, C(/var/lib/apt/periodic/update-success-stamp) is touched, so later calls in
    the same run do not update again.
author:
  - geostack.kargo developers
attributes:
  check_mode:
    support: full
    description: Reports the missing packages; updates and installs nothing.
  diff_mode:
    support: full
    description: One line per package that would be installed.
  idempotent:
    support: full
    description: A second run finds every package installed and changes nothing.
options:
  name:
    description:
      - Debian packages, each C(name) or C(name=version) (the version may hold C(*) wildcards).
    type: list
    elements: str
    required: true
  default_release:
    description: Install from this release (C(apt-get -t)), e.g. a suite pinned low.
    type: str
  cache_valid_time:
    description:
      - Seconds since the last successful C(apt-get update) during which the lists are trusted, when they
        hold a candidate for every missing package.
    type: int
    default: 3600
  install_recommends:
    description: Install recommended packages too; unset = the host's apt configuration decides.
    type: bool
  policy_rc_d:
    description:
      - While installing, C(/usr/sbin/policy-rc.d) answers this code (101 = start no service); the host's own
        file (or none) is back afterwards. Unset = the host's policy.
    type: int
'''

EXAMPLES = r'''
- name: Install the base packages, starting no service they bring
  geostack.kargo.apt_packages:
    name: [curl, nftables, chrony]
    policy_rc_d: 101

- name: Install Compose v2 from a suite pinned low
  geostack.kargo.apt_packages:
    name: [docker-compose, docker-buildx]
    default_release: trixie
'''

RETURN = r'''
missing:
  description: The entries of O(name) that were not installed (installed now, unless in check mode).
  returned: always
  type: list
  elements: str
cache_updated:
  description: Whether C(apt-get update) ran.
  returned: always
  type: bool
cache_update_reason:
  description: Why the lists were refreshed (empty when they were not).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.apt_packages import AptError, AptHost, ensure_installed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            default_release=dict(type='str'),
            cache_valid_time=dict(type='int', default=3600),
            install_recommends=dict(type='bool'),
            policy_rc_d=dict(type='int'),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def run(argv, environ):
        return module.run_command(argv, environ_update=environ)

    try:
        result = ensure_installed(AptHost(run), params['name'], release=params['default_release'],
                                  cache_valid_time=params['cache_valid_time'],
                                  install_recommends=params['install_recommends'],
                                  policy_rc_d=params['policy_rc_d'], check_mode=module.check_mode)
    except ValueError as error:
        module.fail_json(msg='name: %s' % error)
    except AptError as error:
        module.fail_json(msg=str(error))
    if module._diff and result['missing']:
        result['diff'] = {'prepared': ''.join('+ %s\n' % entry for entry in result['missing'])}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
