"""Roles host and docker (playbooks/infrastructure.yml) on real lab nodes, reached over SSH.

A lab of its own (prefix kargo-hostlab, 10.78.0.0/24: node1 manager, node2 and node3 workers)
is made for this module and removed at its end. Nothing else on the engine is touched.
"""
import json
import os
import subprocess
import textwrap
import time

import pytest

from kargo_testlib import ensure_test_image, fresh_lab, run_playbook, TEST_IMAGE

LAB = {'lab_prefix': 'kargo-hostlab', 'lab_subnet': '10.78.0.0/24', 'lab_inventory_dir': '/tmp/kargo-hostlab'}
INVENTORY = os.path.join(LAB['lab_inventory_dir'], 'hosts.yml')
LAB_KEY = os.path.join(LAB['lab_inventory_dir'], '.ssh', 'id_ed25519')
NODES = {'node1': '10.78.0.10', 'node2': '10.78.0.11', 'node3': '10.78.0.12'}
GATEWAY = '10.78.0.1'     # this machine: builds the images and pushes them to the registry
OUTSIDER = '10.78.0.200'  # on the lab network, not a cluster member
NODE_IMAGE = 'geostack-kargo/lab-node:0.1.0'
SSH_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
               '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10']
ADMIN = 'kargo'
PUBLISHED_PORT = 8088
LISTENER_PORTS = [443, 2377, 7946]
REGISTRY_PORT = 5000  # kargo_registry_port: published by a container, like the registry


def ssh(node, command, user='root', key=LAB_KEY, check=True, options=()):
    completed = subprocess.run(['ssh', '-i', key] + SSH_OPTIONS + list(options) + ['%s@%s' % (user, NODES[node]), command],
                               capture_output=True, text=True, timeout=120)
    if check:
        assert completed.returncode == 0, '%s on %s: %s%s' % (command, node, completed.stdout, completed.stderr)
    return completed


def infrastructure(settings, **more):
    return run_playbook('playbooks/infrastructure.yml', dict(settings, **more), inventory=INVENTORY, timeout=1800)


def changed_tasks(run, node):
    """Names of the tasks that changed `node`, without the role prefix ("geostack.kargo.host : ")."""
    return [name.split(' : ', 1)[-1] for name in run.changed_tasks(node)]


def dockerd_pids():
    return dict((node, ssh(node, 'cat /var/run/docker.pid').stdout.strip()) for node in NODES)


def node_state(node):
    """What the roles manage on a node, to show a failed run changed nothing."""
    return ssh(node, 'cat /var/run/docker.pid /etc/docker/daemon.json /etc/ssh/sshd_config.d/00-kargo.conf; '
                     'nft list table inet kargo_host; getent passwd %s || true' % ADMIN).stdout


def daemon_json(node):
    return json.loads(ssh(node, 'cat /etc/docker/daemon.json').stdout)


# Runs in a container and connects to each host:port given, all at once; prints {target: true/false}.
PROBE = textwrap.dedent('''
    import json, socket, sys, threading
    results = {}
    def probe(target):
        host, port = target.rsplit(':', 1)
        try:
            socket.create_connection((host, int(port)), timeout=4).close()
            results[target] = True
        except OSError:
            results[target] = False
    threads = [threading.Thread(target=probe, args=(t,)) for t in sys.argv[1:]]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps(results))
''')

# Listens on the ports given that nothing else serves yet, for 120 s; writes its pid when ready.
LISTENER = textwrap.dedent('''
    import os, select, socket, sys, time
    sockets = []
    for port in sys.argv[1:]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('0.0.0.0', int(port)))
        except OSError:
            continue
        s.listen(16)
        sockets.append(s)
    open('/tmp/kargo-hostlab-listener.pid', 'w').write(str(os.getpid()))
    end = time.time() + 120
    while time.time() < end:
        for s in select.select(sockets, [], [], 1)[0]:
            s.accept()[0].close()
''')


def connect_from_node(node, targets):
    return json.loads(ssh(node, 'python3 -c %s %s' % (quote(PROBE), ' '.join(targets))).stdout)


def connect_from_outsider(targets):
    completed = subprocess.run(
        ['docker', 'run', '--rm', '--name', 'kargo-hostlab-outsider', '--network', LAB['lab_prefix'], '--ip', OUTSIDER,
         '--entrypoint', 'python3', NODE_IMAGE, '-c', PROBE] + targets,
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def connect_from_here(targets):
    completed = subprocess.run(['python3', '-c', PROBE] + targets, capture_output=True, text=True, timeout=60)
    return json.loads(completed.stdout)


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.fixture(scope='module')
def lab():
    with fresh_lab(LAB):
        yield


@pytest.fixture(scope='module')
def admin_key(tmp_path_factory):
    key = str(tmp_path_factory.mktemp('admin') / 'id_ed25519')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kargo-hostlab-admin', '-f', key], check=True)
    return key


def machine_max_map_count():
    with open('/proc/sys/vm/max_map_count') as handle:
        return int(handle.read())


@pytest.fixture(scope='module')
def settings(admin_key):
    with open(admin_key + '.pub') as handle:
        public_key = handle.read().strip()
    return {'host_admin_ssh_keys': [public_key], 'host_firewall_trusted_sources': [GATEWAY],
            # kernel-wide: in a lab node (a privileged container) it is this machine's, so never set
            'host_sysctls': {'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-iptables': 1,
                             'net.ipv4.tcp_keepalive_time': 600, 'vm.max_map_count': machine_max_map_count() + 1}}


@pytest.fixture(scope='module')
def first_run(lab, settings):
    max_map_count = machine_max_map_count()
    run = infrastructure(settings)
    assert run.rc == 0, run.explain()
    assert machine_max_map_count() == max_map_count
    return run


def test_first_run_configures_every_node(first_run):
    for node in NODES:
        changed = changed_tasks(first_run, node)
        assert 'Write the SSH hardening drop-in' in changed, changed
        assert 'Load the firewall rules' in changed, changed
        assert 'Write daemon.json (checked with dockerd --validate)' in changed, changed


def test_kernel_settings_of_the_node_set_and_the_machines_left_alone(first_run):
    for node in NODES:
        skipped = [result['msg'] for name, result in first_run.task_results(node)
                   if name.endswith('List the kernel settings left alone, with the reason')]
        assert skipped == [["vm.max_map_count: kernel-wide: in a container it is the machine's kernel, not this host's"]]
        assert ssh(node, 'cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/ip_forward').stdout.split() == ['600', '1']
        assert 'vm.max_map_count' not in ssh(node, 'cat /etc/sysctl.d/90-kargo.conf').stdout


def test_second_run_changes_nothing_and_keeps_dockerd(first_run, settings):
    pids = dockerd_pids()
    again = infrastructure(settings)
    assert again.rc == 0, again.explain()
    for node in NODES:
        assert again.stats(node)['changed'] == 0, (node, again.changed_tasks(node))
    assert dockerd_pids() == pids


PACKAGES_TASK = 'Install the base packages, nftables and the time daemon'
EMPTY_LISTS = 'rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp; touch /var/lib/apt/lists'


def test_packages_installed_on_a_node_whose_lists_were_just_emptied(first_run, settings):
    # node2 loses a package the role wants and its package lists a moment ago, as an image
    # build leaves them (the lists' folder is new: a cache age read from it says "fresh");
    # node3 loses only its lists: it has every package, so nothing may update them
    ssh('node2', 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q curl && ' + EMPTY_LISTS)
    ssh('node3', EMPTY_LISTS)
    run = infrastructure(settings)
    assert run.rc == 0, run.failure_messages('node2')
    assert changed_tasks(run, 'node2') == [PACKAGES_TASK]
    installed = [result for name, result in run.task_results('node2') if name.endswith(PACKAGES_TASK)][0]
    assert installed['missing'] == ['curl'] and installed['cache_updated'], installed
    assert ssh('node2', "dpkg-query -W -f='${db:Status-Status}' curl").stdout == 'installed'
    assert run.stats('node3')['changed'] == 0, run.changed_tasks('node3')
    assert ssh('node3', 'ls /var/lib/apt/lists | grep -c _Packages', check=False).stdout.strip() == '0'


def test_admin_user_logs_in_with_its_key_and_sudo_needs_no_password(first_run, admin_key):
    for node in NODES:
        logged_in = ssh(node, 'id -un; sudo -n id -u', user=ADMIN, key=admin_key)
        assert logged_in.stdout.split() == [ADMIN, '0']


def test_sshd_refuses_passwords_and_root_keeps_its_key(first_run, admin_key):
    for node in NODES:
        effective = ssh(node, '/usr/sbin/sshd -T').stdout.splitlines()
        assert 'passwordauthentication no' in effective
        assert 'kbdinteractiveauthentication no' in effective
        assert set(effective) & {'permitrootlogin without-password', 'permitrootlogin prohibit-password'}
        # the running sshd (reloaded) offers keys only
        password = ssh(node, 'true', user=ADMIN, key=admin_key, check=False,
                       options=['-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive'])
        assert password.returncode != 0 and 'Permission denied (publickey)' in password.stderr, password.stderr
    assert ssh('node1', 'id -u').stdout.strip() == '0'


def test_firewall_table_next_to_dockers_rules(first_run):
    for node in NODES:
        tables = ssh(node, 'nft list tables').stdout.splitlines()
        assert 'table inet kargo_host' in tables
        assert 'table ip filter' in tables and 'table ip nat' in tables  # Docker's, still there
        assert 'chain DOCKER' in ssh(node, 'nft list table ip nat').stdout


@pytest.fixture()
def node1_services(first_run):
    """Listeners on node1 for the ports nothing serves yet, and a container publishing PUBLISHED_PORT
    and, like the registry, REGISTRY_PORT."""
    ensure_test_image()
    loaded = subprocess.run('docker save %s | ssh -i %s %s root@%s docker load -q'
                            % (TEST_IMAGE, LAB_KEY, ' '.join(SSH_OPTIONS), NODES['node1']),
                            shell=True, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    ssh('node1', 'docker rm -f kargo-hostlab-web >/dev/null 2>&1; '
                 'docker run -d --name kargo-hostlab-web -p %d:8080 -p %d:8080 %s httpd -f -p 8080 -h /www'
                 % (PUBLISHED_PORT, REGISTRY_PORT, TEST_IMAGE))
    ssh('node1', 'rm -f /tmp/kargo-hostlab-listener.pid; setsid python3 -c %s %s >/dev/null 2>&1 </dev/null &'
                 % (quote(LISTENER), ' '.join(map(str, LISTENER_PORTS))))
    deadline = time.monotonic() + 20
    while ssh('node1', 'test -s /tmp/kargo-hostlab-listener.pid', check=False).returncode != 0:
        assert time.monotonic() < deadline, 'the listener on node1 did not start'
        time.sleep(0.5)
    yield
    ssh('node1', 'kill $(cat /tmp/kargo-hostlab-listener.pid); docker rm -f kargo-hostlab-web', check=False)


def test_swarm_and_registry_ports_only_from_cluster_members(node1_services):
    node1 = NODES['node1']
    target = dict((port, '%s:%d' % (node1, port)) for port in [22, 443, 2377, REGISTRY_PORT, 7946, PUBLISHED_PORT])
    outsider = connect_from_outsider(list(target.values()))
    assert outsider[target[22]] is True and outsider[target[443]] is True, outsider
    assert outsider[target[2377]] is False and outsider[target[7946]] is False, outsider
    # a container port published on a cluster port goes through Docker's forward rules:
    # the table's forward chain keeps outsiders away from it too
    assert outsider[target[REGISTRY_PORT]] is False, outsider
    # any other published container port is Docker's business, open
    assert outsider[target[PUBLISHED_PORT]] is True, outsider
    member = connect_from_node('node2', [target[2377], target[7946], target[REGISTRY_PORT]])
    assert all(member.values()), member
    # the gateway is a trusted source (host_firewall_trusted_sources): it pushes to the registry
    here = connect_from_here([target[REGISTRY_PORT]])
    assert here[target[REGISTRY_PORT]] is True, here


def test_daemon_json_has_log_rotation_no_live_restore_and_keeps_cgroup_parent(first_run):
    for node in NODES:
        config = daemon_json(node)
        assert config['log-driver'] == 'json-file'
        assert config['log-opts'] == {'max-size': '10m', 'max-file': '3'}
        assert config['live-restore'] is False  # kargo_mode swarm (lab inventory)
        assert config['cgroup-parent'] == '/%s-%s' % (LAB['lab_prefix'], node)
        assert ssh(node, 'docker info --format "{{.LoggingDriver}}"').stdout.strip() == 'json-file'


def test_time_daemon_never_sets_the_shared_clock(first_run):
    for node in NODES:
        command_line = ssh(node, 'tr "\\0" " " </proc/$(cat /run/chrony/chronyd.pid)/cmdline').stdout.split()
        assert command_line[0] == 'chronyd' and '-x' in command_line, command_line
        assert 'makestep' not in ssh(node, 'cat /etc/chrony/chrony.conf').stdout


# A private key pasted by mistake: the message must name the setting and never print the key.
PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUSECRETPART\n-----END OPENSSH PRIVATE KEY-----'


@pytest.mark.parametrize('bad, expected', [
    ({'host_admin_ssh_keys': [PRIVATE_KEY]},
     'host_admin_ssh_keys: entry 1 of 1 is not an SSH public key'),
    ({'host_firewall_trusted_sources': [GATEWAY, '10.78.0.300', 'builder.example']},
     "host_firewall_trusted_sources: ['10.78.0.300', 'builder.example'] are not IPv4/IPv6 addresses or CIDRs"),
    ({'host_firewall_public_tcp_ports': [80, 443]},
     'host_firewall_public_tcp_ports: [80, 443] does not hold the SSH port 22'),
    # the host role only checks its settings here (host_configure false): the docker role's
    # check comes after it in the play
    ({'docker_live_restore': True, 'host_configure': False},
     'docker_live_restore: live-restore cannot be on in swarm mode'),
], ids=['private-key-as-admin-key', 'trusted-source-not-an-address', 'firewall-without-ssh', 'live-restore-in-swarm'])
def test_bad_setting_fails_naming_it_and_changes_nothing(first_run, settings, bad, expected):
    before = dict((node, node_state(node)) for node in NODES)
    run = infrastructure(dict(settings, **bad))
    assert run.rc != 0
    for node in NODES:
        messages = run.failure_messages(node)
        assert any(expected in message for message in messages), messages
        assert run.changed_tasks(node) == []
        assert node_state(node) == before[node]
    assert 'SECRETPART' not in run.stdout + run.stderr
    print('\n'.join(run.failure_messages('node1')))


def test_changed_log_setting_restarts_dockerd_once(first_run, settings):
    pids = dockerd_pids()
    # rules lost (a node restarted without systemd): found by the table's digest, loaded again
    ssh('node3', 'nft delete table inet kargo_host')
    changed = infrastructure(settings, docker_log_max_file=5)
    assert changed.rc == 0, changed.explain()
    assert 'Load the firewall rules' in changed_tasks(changed, 'node3')
    after = dockerd_pids()
    for node in NODES:
        tasks = changed_tasks(changed, node)
        assert tasks.count('Stop dockerd') == 1 and tasks.count('Start dockerd in the background') == 1, tasks
        assert after[node] != pids[node]
        assert daemon_json(node)['log-opts']['max-file'] == '5'
        assert daemon_json(node)['cgroup-parent'] == '/%s-%s' % (LAB['lab_prefix'], node)
        assert ssh(node, 'docker version --format "{{.Server.Version}}"').stdout.strip()


def test_docker_role_installs_a_missing_engine(first_run, settings):
    # node3 made bare: its engine stopped and its packages purged; the node's apt skips
    # recommended packages, like a minimal host (trixie's docker.io only recommends docker-cli)
    ssh('node3', 'kill $(cat /var/run/docker.pid) && while [ -e /var/run/docker.pid ]; do sleep 0.5; done; '
                 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q docker.io docker-cli docker-compose docker-buildx')
    assert ssh('node3', 'command -v docker', check=False).returncode != 0
    installed = infrastructure(settings)
    assert installed.rc == 0, installed.failure_messages('node3')
    tasks = changed_tasks(installed, 'node3')
    assert 'Install the engine (docker_distro_packages)' in tasks and 'Install Compose v2 and buildx' in tasks, tasks
    assert 'Start dockerd in the background' in tasks, tasks
    assert ssh('node3', 'docker compose version --short').stdout.strip().startswith('2.')
    assert ssh('node3', 'docker version --format "{{.Server.Version}}"').stdout.strip()
    assert daemon_json('node3')['log-driver'] == 'json-file'
    again = infrastructure(settings)
    assert again.rc == 0, again.failure_messages('node3')
    for node in NODES:
        assert again.stats(node)['changed'] == 0, (node, again.changed_tasks(node))
