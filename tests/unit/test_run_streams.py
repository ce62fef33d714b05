"""How `make test` splits the tests in two streams (tests/run_streams.py)."""
import glob
import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
from run_streams import (LAB_FILES, ROOT, exit_status, is_failure_summary, labelled, run_streams,  # noqa: E402
                         stream_commands)


def test_every_test_file_runs_in_exactly_one_stream():
    commands = stream_commands('python')
    lab_paths = [arg for arg in commands['lab'] if arg.startswith('tests/')]
    ignored = [arg.split('=', 1)[1] for arg in commands['main'] if arg.startswith('--ignore=')]
    assert sorted(lab_paths) == sorted(ignored) == sorted(LAB_FILES)
    assert [arg for arg in commands['main'] if arg.startswith('tests/')] == ['tests/unit', 'tests/integration']
    for path in LAB_FILES:
        assert os.path.isfile(os.path.join(ROOT, path)), path
    integration = sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, 'tests/integration/test_*.py')))
    assert set(LAB_FILES) < set(integration)


def test_integration_only_leaves_the_unit_tests_out():
    main = stream_commands('python', integration_only=True)['main']
    assert 'tests/unit' not in main and 'tests/integration' in main


def test_each_stream_has_its_own_temporary_folder_and_no_shared_cache():
    commands = stream_commands('/venv/bin/python')
    basetemps = [arg for command in commands.values() for arg in command if arg.startswith('--basetemp=')]
    assert len(set(basetemps)) == 2
    assert all(command[:3] == ['/venv/bin/python', '-m', 'pytest'] and 'no:cacheprovider' in command
               for command in commands.values())


def test_the_run_fails_when_either_stream_fails():
    assert exit_status({'main': 0, 'lab': 0}) == 0
    assert exit_status({'main': 0, 'lab': 1}) == 1
    assert exit_status({'main': 2, 'lab': 1}) == 2


def test_lines_are_labelled_with_their_stream():
    assert labelled('lab', 'PASSED\n') == 'lab  | PASSED\n'
    assert labelled('main', 'x\n') == 'main | x\n'


def test_the_failed_tests_are_printed_again_at_the_end():
    """Both streams' failures, labelled, after both finished: a CI log's tail names them."""
    script = ("import sys; print('tests/a.py::t PASSED'); print('FAILED tests/a.py::t - assert 1 == 2');"
              "print('ERROR tests/b.py::u - fixture'); sys.exit(1)")
    codes, failures = run_streams({'main': [sys.executable, '-c', script], 'lab': [sys.executable, '-c', 'print(1)']})
    assert codes == {'main': 1, 'lab': 0}
    assert failures == ['main | FAILED tests/a.py::t - assert 1 == 2\n', 'main | ERROR tests/b.py::u - fixture\n']
    assert not is_failure_summary('tests/a.py::t FAILED [ 50%]\n')
