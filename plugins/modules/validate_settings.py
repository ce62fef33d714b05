#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: validate_settings
short_description: Check the settings of geostack.kargo roles against their argument specs, strictly
version_added: 0.1.0
description:
  - Every option of the C(main) entry point in C(roles/<role>/meta/argument_specs.yml) of each role in O(roles)
    is rendered with the task's variables (over the role's defaults) and checked for its C(type) without
    Ansible's lenient conversions (a string is not a list), then for C(choices), and for what the specs
    add to Ansible's keys - C(pattern) (with C(pattern_why), the words of the error), C(min) and C(max),
    C(file) (C(readable), C(pem_certificate), C(private_key) on the controller) and C(key_of) (the
    certificate setting a key must match).
  - Every bad setting is reported at once, one line each, as C(<setting>) then its value and what is
    expected, naming the setting the user wrote. A setting whose default is made from others is not reported when
    one of those is, and names them when it fails alone. A C(no_log) setting is named without its value.
  - Runs on the controller only (an action plugin); this file holds its documentation.
author:
  - geostack.kargo developers
extends_documentation_fragment:
  - geostack.kargo.controller_check
options:
  roles:
    description: Names of roles of geostack.kargo whose settings are checked.
    type: list
    elements: str
    required: true
'''

EXAMPLES = r'''
- name: Check every setting of the stack before anything is built or deployed
  geostack.kargo.validate_settings:
    roles: [common, images, proxy, postgis]
'''

RETURN = r'''
checked:
  description: How many settings were rendered and checked (those made from facts of a later play are not).
  returned: always
  type: int
  sample: 142
errors:
  description: One line per bad setting.
  returned: always
  type: list
  elements: str
  sample: ["kargo_mode: kubernetes is not one of compose, swarm"]
'''
