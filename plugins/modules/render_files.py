#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: render_files
short_description: Write a service's settings files in one call, rewriting only those whose content changed
version_added: 0.1.0
description:
  - Makes the folder O(dest) (and O(folders)) exist and hold the files of O(files), in one call, where
    it would otherwise take one M(ansible.builtin.file) task per folder and one M(ansible.builtin.template)
    or M(ansible.builtin.copy) task per file.
  - Templates are rendered on the controller with the task's variables, as
    M(ansible.builtin.template) does (its action plugin); the target receives the rendered content.
  - A file is written only when its content differs, into a temporary file next to it that gets its
    owner and mode first and is then renamed over it (a reader never sees a half-written file, a
    secret is never readable by others). Mode and owner are corrected without rewriting.
  - The result says which files changed (RV(changed_files)), so a later task can act on one of them.
author:
  - geostack.kargo developers
attributes:
  action:
    support: full
    details: Templates and O(files[].src) files are read and rendered on the controller.
  check_mode:
    support: full
    description: Reports which folders and files would be created, updated or removed; writes nothing.
  diff_mode:
    support: full
    description: Before and after of every changed file that is not O(files[].secret).
  idempotent:
    support: full
    description: A second run with the same input writes nothing and reports C(changed=false).
options:
  dest:
    description: The folder the files go in (created with O(folder_mode), parents too).
    type: path
    required: true
  folders:
    description: More folders to create (absolute, or relative to O(dest)), with O(folder_mode).
    type: list
    elements: path
    default: []
  folder_mode:
    description: Mode of O(dest) and O(folders); missing parents get it too.
    type: raw
    default: '0755'
  files:
    description: The files, each from exactly one of O(files[].template), O(files[].src) or O(files[].content).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Where the file goes, relative to O(dest) (it may not leave O(dest)).
        type: str
        required: true
      template:
        description:
          - A Jinja2 template, found like the C(src) of M(ansible.builtin.template) (the role's
            C(templates/) folder first), rendered on the controller with the task's variables.
        type: str
      src:
        description: A text file copied as it is, found like the C(src) of M(ansible.builtin.copy) (the role's C(files/) folder first).
        type: str
      content:
        description: The content itself. Never logged, whatever the file.
        type: str
      mode:
        description: Octal mode, e.g. V('0400') (quoted).
        type: raw
        default: '0644'
      owner:
        description: Owner, a user name or a numeric uid (the uid a container runs as need not exist on the host).
        type: str
      group:
        description: Group, a group name or a numeric gid.
        type: str
      secret:
        description: The file holds a secret; no checksum and no diff of it is returned.
        type: bool
        default: false
  absent:
    description: Files (relative to O(dest)) that must not exist, e.g. those of a setting no longer in use.
    type: list
    elements: str
    default: []
notes:
  - Content goes to the target in the module's arguments; keep files to settings sizes (not data).
  - Content is text (UTF-8); binary files are for M(ansible.builtin.copy).
  - Every O(files[].content) is a C(no_log) value, so a file whose whole content is a short string
    (a word) masks that string wherever it appears in the task's output.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: mapproxy | write the settings and compose files
  geostack.kargo.render_files:
    dest: /opt/kargo/mapproxy
    files:
      - {path: mapproxy.yaml, template: mapproxy.yaml.j2}
      - {path: seed.yaml, template: seed.yaml.j2}
      - {path: compose.yml, template: compose.yml.j2}
      - {path: compose.swarm.yml, template: compose.swarm.yml.j2}
  register: mapproxy_files

- name: postgis | write the password file (a compose secret) and the compose files
  geostack.kargo.render_files:
    dest: /opt/kargo/postgis
    files:
      - {path: db_password, content: "{{ kargo_db_password_value }}", owner: "999", group: "999", mode: "0400", secret: true}
      - {path: compose.yml, template: compose.yml.j2}
  register: postgis_files

- name: postgis | act when the password file changed
  ansible.builtin.debug:
    msg: the password changed
  when: "'db_password' in postgis_files.changed_files"

- name: proxy | folders, the nginx site, and no certificate of a setting no longer used
  geostack.kargo.render_files:
    dest: /opt/kargo/proxy
    folders: [tls]
    files:
      - {path: default.conf, template: default.conf.j2}
    absent: [tls/custom.crt, tls/custom.key]
'''

RETURN = r'''
changed_files:
  description: The O(files[].path) of the files created, rewritten or given another mode or owner.
  returned: always
  type: list
  elements: str
  sample: [mapproxy.yaml]
files:
  description: One entry per file, in order; C(sha256) of the content except for secret files.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: mapproxy.yaml, state: updated, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
    - {path: compose.yml, state: unchanged, sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}
folders:
  description: Folders created or given O(folder_mode).
  returned: always
  type: list
  elements: str
pending:
  description:
    - In check mode, what would have been written, as the deploy modules' O(geostack.kargo.compose_project#module:pending)
      takes it; a dict of absolute path to C({content, sha256}) per file created or updated, a secret file without either.
  returned: in check mode
  type: dict
removed:
  description: The O(absent) files that were there and were (or would be) removed.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.geostack.kargo.plugins.module_utils.settings_files import (
    FilesError, apply, parse_mode, wanted_files)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            folders=dict(type='list', elements='path', default=[]),
            folder_mode=dict(type='raw', default='0755'),
            files=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='str', required=True),
                template=dict(type='str'),
                src=dict(type='str'),
                content=dict(type='str', no_log=True),
                mode=dict(type='raw', default='0644'),
                owner=dict(type='str'),
                group=dict(type='str'),
                secret=dict(type='bool', default=False),
            )),
            absent=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    unrendered = [entry['path'] for entry in params['files'] if entry.get('template') or entry.get('src')]
    if unrendered:
        module.fail_json(msg='files %s: template and src are read by the action plugin geostack.kargo.render_files; '
                             'call the module by that name' % ', '.join(unrendered))
    dest = params['dest']
    folders = [folder if folder.startswith('/') else '%s/%s' % (dest, folder) for folder in params['folders']]
    try:
        files = wanted_files(dest, params['files'])
        result = apply(dest, folders, files, params['absent'], folder_mode=parse_mode(params['folder_mode'], 'folder_mode'),
                       check_mode=module.check_mode, keep_before=module._diff)
    except (FilesError, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
