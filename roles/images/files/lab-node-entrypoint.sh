#!/bin/sh
# Main process of a lab node (a container acting as a bare Debian host with sshd),
# run under tini. Generates the SSH host keys once (each node its own: the image
# has none), points the node's engine at its own cgroup parent, then runs sshd in
# the foreground, logging to stderr (docker logs <node>).
set -eu

# SSH host keys, once per container (kept across restarts of the same container).
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
chmod 0755 /run/sshd

# The host's cgroups are v1 and shared with the node: the engine inside must put its
# containers under a cgroup of its own, or they collide with the host's /docker/<id>.
# Written only when no daemon.json exists, so a daemon.json written later (by hand or
# by a role) is left alone; it must then keep "cgroup-parent" itself.
if [ -n "${KARGO_LAB_CGROUP_PARENT:-}" ] && [ ! -e /etc/docker/daemon.json ]; then
  mkdir -p /etc/docker
  printf '{\n  "cgroup-parent": "%s"\n}\n' "$KARGO_LAB_CGROUP_PARENT" >/etc/docker/daemon.json
fi

exec /usr/sbin/sshd -D -e
