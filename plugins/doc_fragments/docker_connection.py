# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The engine and CLI options of every module that talks to Docker
    # (module_utils/docker_client.py CONNECTION_ARGS).
    DOCUMENTATION = r'''
options:
  docker_host:
    description: Docker Engine address (as C(DOCKER_HOST)); defaults to C(DOCKER_HOST) or the local socket.
    type: str
    aliases: [docker_url]
  docker_cli:
    description: Path of the docker CLI; found on the PATH by default.
    type: path
'''
