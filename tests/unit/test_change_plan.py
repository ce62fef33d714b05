"""Change plans and diffs."""
from ansible_collections.geostack.kargo.plugins.module_utils.change_plan import (
    ServiceState, changed_services, diff_view, has_changes, plan_changes)


def state(config_hash, replicas=1, running=None, **inputs):
    return ServiceState(config_hash, inputs or {'definition': config_hash}, replicas, running)


def test_every_kind_of_change_with_reasons():
    desired = {'new': state('n'), 'same': state('s'), 'edited': state('e2', definition='d', **{'volume:./a': '2'}),
               'scaled': state('c', replicas=3), 'stopped': state('t', replicas=2)}
    current = {'same': state('s'), 'edited': state('e1', definition='d', **{'volume:./a': '1'}),
               'scaled': state('c', replicas=1), 'stopped': state('t', replicas=2, running=1), 'gone': state('g')}
    plan = dict((c['service'], (c['action'], c['reasons'])) for c in plan_changes(desired, current))
    assert plan == {
        'new': ('create', ['new service']),
        'same': ('unchanged', []),
        'edited': ('recreate', ['volume:./a changed']),
        'scaled': ('scale', ['replicas 1 -> 3']),
        'stopped': ('start', ['1 of 2 containers not running']),
        'gone': ('remove', ['no longer defined']),
    }


def test_swarm_flavour_and_no_prune():
    plan = plan_changes({'a': state('2')}, {'a': ServiceState('1', {}), 'b': state('b')},
                        update_action='update', restart_stopped=False, prune=False)
    assert plan == [{'service': 'a', 'action': 'update', 'reasons': ['not deployed by geostack.kargo before']}]
    assert has_changes(plan) and changed_services(plan) == ['a']
    assert not has_changes(plan_changes({'a': state('1')}, {'a': state('1')}))


def test_diff_view_shows_before_after_and_why():
    desired, current = {'a': state('2')}, {'a': state('1')}
    diff = diff_view(desired, current, plan_changes(desired, current), 'compose project p')
    assert diff['before']['services']['a']['config_hash'] == '1'
    assert diff['after']['services']['a']['change'] == 'recreate: definition changed'
    assert diff['after_header'] == 'compose project p (wanted)'
