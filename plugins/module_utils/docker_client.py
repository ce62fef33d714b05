# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the modules talk to Docker.

Reads go through the Docker SDK for Python (one API call instead of a CLI process);
compose and stack deployments go through the docker CLI, since they are CLI features.
Both honour `docker_host` (else DOCKER_HOST, else the local socket), so tests can
point the modules at any real engine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

try:
    import docker
    from docker.errors import DockerException, NotFound, APIError
    HAS_DOCKER_SDK = True
    DOCKER_SDK_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER_SDK = False
    DOCKER_SDK_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        pass

    NotFound = APIError = DockerException

from ansible.module_utils.basic import missing_required_lib

CONNECTION_ARGS = dict(
    docker_host=dict(type='str', aliases=['docker_url']),
    docker_cli=dict(type='path'),
)


class DockerCommandError(Exception):
    def __init__(self, command, rc, stdout, stderr):
        self.command, self.rc, self.stdout, self.stderr = command, rc, stdout, stderr
        super(DockerCommandError, self).__init__(
            '`%s` failed (rc=%s): %s' % (' '.join(command), rc, (stderr or stdout).strip()))


def names_registry_host(reference):
    """True when an image reference starts with a registry host ("10.0.0.5:5000/x", "registry.example.org/x")."""
    first, _, rest = reference.partition('/')
    return bool(rest) and (first == 'localhost' or '.' in first or ':' in first)


class DockerClient(object):
    """SDK client and CLI runner bound to one engine."""

    def __init__(self, module):
        if not HAS_DOCKER_SDK:
            module.fail_json(msg=missing_required_lib('docker (the Docker SDK for Python)'),
                             exception=DOCKER_SDK_IMPORT_ERROR)
        self.module = module
        self.docker_host = module.params.get('docker_host') or os.environ.get('DOCKER_HOST')
        self.cli = module.params.get('docker_cli') or module.get_bin_path('docker', required=True)
        self._sdk = None
        self._image_ids = {}

    @property
    def sdk(self):
        if self._sdk is None:
            try:
                if self.docker_host:
                    self._sdk = docker.DockerClient(base_url=self.docker_host, version='auto')
                else:
                    self._sdk = docker.from_env(version='auto')
            except DockerException as exc:
                self.module.fail_json(msg='cannot reach the Docker Engine%s: %s'
                                      % (' at %s' % self.docker_host if self.docker_host else '', exc))
        return self._sdk

    @property
    def api(self):
        return self.sdk.api

    def run(self, args, cwd=None, data=None, check=True):
        """Run `docker ARGS...`; raise DockerCommandError on failure when `check`."""
        command = [self.cli] + list(args)
        environ_update = {'DOCKER_HOST': self.docker_host} if self.docker_host else {}
        rc, out, err = self.module.run_command(command, cwd=cwd, data=data, binary_data=data is not None,
                                               environ_update=environ_update)
        if check and rc != 0:
            raise DockerCommandError(['docker'] + list(args), rc, out, err)
        return rc, out, err

    def image_id(self, reference):
        """ID of a local image, or None when the engine does not have it (asked once per reference)."""
        if reference not in self._image_ids:
            try:
                self._image_ids[reference] = self.api.inspect_image(reference)['Id']
            except NotFound:
                self._image_ids[reference] = None
        return self._image_ids[reference]

    def cluster_image_id(self, reference):
        """What identifies an image across a swarm: the registry's manifest digest when the
        reference names a registry host (the nodes pull it from there, and this manager may
        not have it, or get it later), else the local image ID (asked once per reference)."""
        key = ('registry', reference)
        if key not in self._image_ids:
            digest = None
            if names_registry_host(reference):
                try:
                    digest = self.api.inspect_distribution(reference)['Descriptor']['digest']
                except (APIError, KeyError):
                    digest = None
            self._image_ids[key] = digest or self.image_id(reference)
        return self._image_ids[key]

    def forget_images(self):
        self._image_ids = {}

    def containers(self, labels):
        """Every container (running or not) carrying all these labels, as inspect dicts."""
        filters = {'label': ['%s=%s' % item for item in sorted(labels.items())]}
        summaries = self.api.containers(all=True, filters=filters)
        return [self.api.inspect_container(summary['Id']) for summary in summaries]

    def container_logs(self, container_id, tail=20):
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=tail)
        except APIError:
            return []
        return raw.decode('utf-8', 'replace').splitlines()

    def swarm_info(self):
        return self.api.info().get('Swarm') or {}
