# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of geostack.kargo.render_files: renders every `template` (and reads every
`src`) with the task's variables, then hands the contents to the module in ONE call, which
writes only what changed. The diff is made here, from the rendered text, since the module's
output masks every content (no_log)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

MODULE = 'geostack.kargo.render_files'


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('dest', 'folders', 'folder_mode', 'files', 'absent'))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        module_args = dict(self._task.args)
        entries = module_args.get('files') or []
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            return dict(result, failed=True, msg='files must be a list of dicts (path and template, src or content)')
        try:
            module_args['files'] = [self._with_content(dict(entry), task_vars) for entry in entries]
        except AnsibleError as exc:
            return dict(result, failed=True, msg=to_text(exc))

        result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        before = result.pop('before', None)
        if before is not None and not result.get('failed'):
            result['diff'] = self._diff(module_args['files'], before)
        if self._play_context.check_mode and not result.get('failed'):
            result['pending'] = self._pending(module_args, result.get('files') or [])
        return result

    @staticmethod
    def _pending(module_args, reports):
        """In check mode, what would have been written, for a deploy module's `pending`:
        {absolute path: {content, sha256}} of each file created or updated (a secret's without
        its content or digest: it only counts as changed)."""
        dest = os.path.expanduser(str(module_args.get('dest') or ''))
        pending = {}
        for entry, report in zip(module_args['files'], reports):
            if report.get('state') not in ('created', 'updated'):
                continue
            path = os.path.normpath(os.path.join(dest, entry['path']))
            pending[path] = {} if entry.get('secret') else {'content': entry['content'], 'sha256': report.get('sha256')}
        return pending

    def _with_content(self, entry, task_vars):
        """The entry with `content` in place of its `template` or `src`."""
        name = entry.get('path')
        given = [key for key in ('template', 'src', 'content') if entry.get(key) is not None]
        if len(given) != 1:
            raise AnsibleError('files[%s]: give exactly one of template, src or content (given: %s)'
                               % (name, ', '.join(given) or 'none'))
        if 'template' in given:
            entry['content'] = self._render(entry.pop('template'), task_vars)
        elif 'src' in given:
            entry['content'] = self._read(entry.pop('src'))
        else:
            entry['content'] = to_text(entry['content'])
        return entry

    def _render(self, template, task_vars):
        """The template rendered as the template lookup (and the template action) renders it:
        found in the role's templates/ first, with the task's variables."""
        lookup = self._shared_loader_obj.lookup_loader.get('ansible.builtin.template', loader=self._loader,
                                                            templar=self._templar)
        try:
            rendered = lookup.run([template], variables=task_vars)[0]
        except AnsibleError as exc:
            raise AnsibleError('template %s: %s' % (template, to_text(exc)))
        if rendered is None:
            return ''
        if not isinstance(rendered, str):
            raise AnsibleError('template %s renders to a %s, not to text' % (template, type(rendered).__name__))
        return rendered

    def _read(self, src):
        path = self._find_needle('files', src)
        with open(path, 'rb') as handle:
            data = handle.read()
        try:
            return data.decode('utf-8')
        except UnicodeDecodeError:
            raise AnsibleError('src %s is not UTF-8 text; copy binary files with ansible.builtin.copy' % src)

    @staticmethod
    def _diff(files, before):
        diffs = []
        for entry in files:
            old = before.get(entry['path'], False)
            if old is False or old is None or entry.get('secret'):
                continue
            diffs.append(dict(before_header=entry['path'], after_header=entry['path'],
                              before=old, after=entry['content']))
        return diffs
