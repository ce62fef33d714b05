"""geostack.kargo.swarm_member on the real engine: a one-node swarm (multi-node joins are the lab's)."""
import pytest

from kargo_testlib import engine, play


def member(check_mode=False, no_log=False, **args):
    return {'geostack.kargo.swarm_member': args, 'check_mode': check_mode, 'no_log': no_log}


def swarm_state():
    return engine().info()['Swarm']


@pytest.fixture(scope='module', autouse=True)
def outside_any_swarm():
    """These tests create and leave the swarm themselves; afterwards the engine is in a swarm
    only when it was in one before (a new one: the old one is gone), so what runs next finds
    the engine as a fresh machine has it."""
    was_in_a_swarm = swarm_state()['LocalNodeState'] != 'inactive'
    if was_in_a_swarm:
        engine().swarm.leave(force=True)
    yield
    in_a_swarm = swarm_state()['LocalNodeState'] != 'inactive'
    if was_in_a_swarm and not in_a_swarm:
        engine().swarm.init(advertise_addr='127.0.0.1')
    elif in_a_swarm and not was_in_a_swarm:
        engine().swarm.leave(force=True)


def node_labels():
    return engine().nodes.get(swarm_state()['NodeID']).attrs['Spec'].get('Labels') or {}


def test_init_is_idempotent_and_check_mode_changes_nothing():
    check, init, again, check_again = play([
        member(check_mode=True, bootstrap=True, advertise_addr='127.0.0.1'),
        member(bootstrap=True, advertise_addr='127.0.0.1'),
        member(bootstrap=True, advertise_addr='127.0.0.1'),
        member(check_mode=True, bootstrap=True, advertise_addr='127.0.0.1'),
    ]).results
    assert check['changed'] is True and check['actions'] == ['init a new swarm']
    assert not init.get('failed'), init.get('msg')
    assert init['changed'] is True
    assert init['swarm']['role'] == 'manager' and init['swarm']['local_node_state'] == 'active'
    assert init['diff']['before']['local_node_state'] == 'inactive'
    assert again['changed'] is False and again['actions'] == []
    assert check_again['changed'] is False
    assert swarm_state()['Cluster']['ID'] == init['swarm']['cluster_id']


def test_labels_added_updated_and_removed():
    add, add_again, change, keep_others, remove = play([
        member(labels={'kargo.postgis': 'true', 'zone': 'a'}),
        member(labels={'kargo.postgis': 'true', 'zone': 'a'}),
        member(check_mode=False, labels={'kargo.postgis': 'true', 'zone': 'b'}),
        member(labels={'extra': 'x'}, labels_exclusive=False),
        member(labels={'zone': 'b'}),
    ]).results
    assert add['changed'] is True and add['labels']['added'] == {'kargo.postgis': 'true', 'zone': 'a'}
    assert add_again['changed'] is False
    assert change['labels']['updated'] == {'zone': 'b'}
    assert keep_others['labels']['removed'] == []
    assert remove['labels']['removed'] == ['extra', 'kargo.postgis']
    assert node_labels() == {'zone': 'b'}


def test_labels_from_a_manager_by_node_name():
    hostname = engine().nodes.get(swarm_state()['NodeID']).attrs['Description']['Hostname']
    check, apply, again = play([
        member(check_mode=True, node=hostname, role='manager', labels={'kargo.proxy': 'true'}),
        member(node=hostname, role='manager', labels={'kargo.proxy': 'true'}),
        member(node=hostname, role='manager', labels={'kargo.proxy': 'true'}),
    ]).results
    assert check['changed'] is True and node_labels() == {'kargo.proxy': 'true'} or check['changed']
    assert apply['changed'] is True and again['changed'] is False
    assert node_labels() == {'kargo.proxy': 'true'}


def test_join_tokens_are_returned_only_on_request_and_never_logged():
    tokens = play([member(return_join_tokens=True)])[0]
    worker_token = tokens['join_tokens']['Worker']
    assert worker_token.startswith('SWMTKN-')
    quiet = play([member(return_join_tokens=True, no_log=True),
                  member(remote_addrs=['127.0.0.1'], join_token=worker_token, role='manager')], verbosity=3)
    assert worker_token not in quiet.stdout
    assert 'join_tokens' not in play([member()])[0]


def test_another_swarm_is_refused():
    result = play([member(cluster_id='not-this-cluster')])[0]
    assert result['failed'] is True
    assert 'belongs to another swarm' in result['msg'] and 'not-this-cluster' in result['msg']


BAD = [
    ('unknown role', dict(role='boss'), 'value of role must be one of'),
    ('unknown node', dict(node='no-such-node'), "no node 'no-such-node' in this swarm"),
    ('node and bootstrap', dict(node='x', bootstrap=True), 'mutually exclusive'),
]


@pytest.mark.parametrize('label,args,message', BAD, ids=[case[0] for case in BAD])
def test_bad_input(label, args, message):
    result = play([member(**args)])[0]
    print(label, '->', result.get('msg'))
    assert result['failed'] is True
    assert message in result['msg']


def test_leave_needs_force_for_a_manager_then_is_idempotent():
    refused, check, leave, again = play([
        member(state='absent'),
        member(state='absent', force=True, check_mode=True),
        member(state='absent', force=True),
        member(state='absent', force=True),
    ]).results
    assert refused['failed'] is True and 'force=true' in refused['msg']
    assert check['changed'] is True
    assert leave['changed'] is True and again['changed'] is False
    assert swarm_state()['LocalNodeState'] == 'inactive'


def test_not_in_a_swarm_errors_say_what_to_set():
    nothing_to_join, worker_bootstrap = play([member(role='worker'), member(role='worker', bootstrap=True)]).results
    assert nothing_to_join['failed'] is True
    assert 'set bootstrap=true on the first manager, or remote_addrs and join_token' in nothing_to_join['msg']
    assert worker_bootstrap['failed'] is True
    assert 'bootstrap creates a swarm, so role must be manager' in worker_bootstrap['msg']
    assert swarm_state()['LocalNodeState'] == 'inactive'
