"""A timeout that is not a positive number of seconds is refused by every module that waits,
naming the parameter, before the module does anything (through Ansible, one play); and
swarm_wait's bad stack name."""
from kargo_testlib import play, task

DATABASE = {'name': 'gis', 'user': 'kargo', 'password': 'not-shown'}
CASES = [
    ('compose_wait', dict(projects=[], wait_timeout=0), 'wait_timeout must be a positive number of seconds, not 0'),
    ('compose_project', dict(project_name='kargotest-timeout', files=['/nonexistent/compose.yml'], wait_timeout=-1),
     'wait_timeout must be a positive number of seconds, not -1'),
    ('swarm_stack', dict(name='kargotest-timeout', files=['/nonexistent/compose.yml'], wait_timeout=0),
     'wait_timeout must be a positive number of seconds, not 0'),
    ('swarm_wait', dict(stacks=[], wait_timeout=0), 'wait_timeout must be a positive number of seconds, not 0'),
    ('swarm_wait', dict(stacks=[{'name': 'bad name!', 'services': ['web']}]),
     "stacks: name 'bad name!' is not a valid stack name: use letters, digits, '-' and '_'"),
    ('http_check', dict(urls={'home': 'https://127.0.0.1:1/'}, timeout=0),
     'timeout must be a positive number of seconds, not 0'),
    ('http_check', dict(urls={'home': 'https://127.0.0.1:1/'}, request_timeout=-3),
     'request_timeout must be a positive number of seconds, not -3'),
    ('geoserver_publish', dict(url='https://127.0.0.1:1/geoserver', password='not-shown', database=DATABASE, timeout=0),
     'timeout must be a positive number of seconds, not 0'),
    ('geoserver_publish', dict(url='https://127.0.0.1:1/geoserver', password='not-shown', database=DATABASE,
                               request_timeout=0),
     'request_timeout must be a positive number of seconds, not 0'),
]


def test_a_timeout_that_is_not_positive_fails_naming_it():
    results = play([task('geostack.kargo.' + module, **args) for module, args, _message in CASES])
    for (module, _args, message), result in zip(CASES, results):
        print(module, '->', result.get('msg'))
        assert result.get('failed') is True, (module, result)
        assert result['msg'] == message, (module, result['msg'])
