#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: http_check
short_description: Ask several URLs at once until each answers with an expected status
version_added: 0.1.0
description:
  - Sends a GET to every URL of O(urls) in parallel from the target, and again (every second) to those
    that gave no expected status, until all have or O(timeout) seconds have passed.
  - Fails naming each URL without an expected answer, with its last status or connection error.
  - Changes nothing: one task instead of one M(ansible.builtin.uri) call per URL.
author:
  - geostack.kargo developers
attributes:
  check_mode:
    support: full
    description: Asks the URLs in check mode too (reading only).
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Never changes anything.
options:
  urls:
    description:
      - What to ask, as name -> URL (the name is used in messages and results, e.g. the service).
      - Each URL is appended to O(base_url).
    type: dict
    required: true
  base_url:
    description: Put before every URL of O(urls) (e.g. C(https://127.0.0.1:443)).
    type: str
    default: ''
  headers:
    description: Request headers sent with every request (e.g. C(Host)).
    type: dict
    default: {}
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  status_code:
    description: The statuses that count as an answer.
    type: list
    elements: int
    default: [200]
  timeout:
    description: Seconds to keep asking before failing.
    type: int
    default: 30
  request_timeout:
    description: Seconds one request may take.
    type: int
    default: 10
'''

EXAMPLES = r'''
- name: Ask each service through the proxy
  geostack.kargo.http_check:
    base_url: https://127.0.0.1
    urls:
      qgis_server: /qgis/?SERVICE=WMS&REQUEST=GetCapabilities
      tileserver_gl: /tiles/health
    headers:
      Host: maps.example.org
    validate_certs: false
'''

RETURN = r'''
answers:
  description: The last answer of each URL, in the order of O(urls).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: The check's name., type: str}
    url: {description: The URL asked., type: str}
    status: {description: The HTTP status, or null without one., type: int}
    error: {description: Why there was no answer (empty with one)., type: str}
    seconds: {description: Seconds the last request took., type: float}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.geostack.kargo.plugins.module_utils.http_checks import check_urls
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure, refuse_not_positive_seconds


def main():
    module = AnsibleModule(
        argument_spec=dict(
            urls=dict(type='dict', required=True),
            base_url=dict(type='str', default=''),
            headers=dict(type='dict', default={}),
            validate_certs=dict(type='bool', default=True),
            status_code=dict(type='list', elements='int', default=[200]),
            timeout=dict(type='int', default=30),
            request_timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    refuse_not_positive_seconds(module, 'timeout', 'request_timeout')
    checks = [{'name': name, 'url': params['base_url'] + str(url)} for name, url in params['urls'].items()]

    def fetch(url):
        with open_url(url, headers=params['headers'], validate_certs=params['validate_certs'],
                      timeout=params['request_timeout']) as answer:
            answer.read()
            return answer.getcode()

    try:
        answers = check_urls(checks, fetch, params['status_code'], params['timeout'])
    except ServiceFailure as failure:
        module.fail_json(msg=str(failure))
    module.exit_json(changed=False, answers=answers)


if __name__ == '__main__':
    main()
