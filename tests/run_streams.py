"""`make test`: every test, in two pytest processes at once.

The test files that make labs of hosts (containers acting as hosts, each with its own
engine, subnet and prefix) run in the "lab" stream; every other file, the unit tests
first, in the "main" stream, with test_registry's lab (its own subnet too): the lab
stream was the longer one (a cold run at f79bd2a: main 48 min, lab 56 min). Most of a
test's time is Ansible working one task at a time, or waiting for a service to get
healthy, so the two streams share the machine's two cores: together they take a little
more than the longer one.

The images both streams use are built first, once (kargo_testlib.build_shared_images):
two builds of one tag at once would each do the work. Each stream's lines are printed as
they come, behind its name; the exit status is the first stream's that failed. The
failed tests' summary lines are printed again at the very end, where a CI log's tail
shows them.

    python tests/run_streams.py [--integration-only]
"""
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

LAB_FILES = (
    'tests/integration/test_lab.py',
    'tests/integration/test_host_role.py',
)


def stream_commands(python, integration_only=False):
    """{stream name: pytest command}: the lab files in one, everything else in the other,
    each with its own temporary folder and no shared pytest cache."""
    common = ['-v', '-rfEs', '-p', 'no:cacheprovider']
    main_paths = ['tests/integration'] if integration_only else ['tests/unit', 'tests/integration']
    return {
        'main': [python, '-m', 'pytest'] + main_paths + ['--ignore=' + path for path in LAB_FILES]
                + common + ['--durations=15', '--basetemp=/tmp/kargo-pytest-main'],
        'lab': [python, '-m', 'pytest'] + list(LAB_FILES) + common + ['--durations=10', '--basetemp=/tmp/kargo-pytest-lab'],
    }


def exit_status(return_codes):
    """The exit status of the whole run: 0 when every stream passed, else the first failure's."""
    failed = [code for code in return_codes.values() if code != 0]
    return failed[0] if failed else 0


def labelled(name, line, width=4):
    return '%-*s | %s' % (width, name, line)


def is_failure_summary(line):
    """A line of pytest's short summary (-rfE) naming a failed test or an error."""
    return line.startswith(('FAILED ', 'ERROR '))


def follow(name, process, lock, failures):
    for line in process.stdout:
        with lock:
            sys.stdout.write(labelled(name, line))
            sys.stdout.flush()
        if is_failure_summary(line):
            failures.append(labelled(name, line))


def run_streams(commands):
    """Start every command at once; print each one's lines behind its name.
    ({name: return code}, [the failed tests' summary lines, labelled])."""
    lock = threading.Lock()
    processes, readers, failures = {}, [], []
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True, bufsize=1)
        reader = threading.Thread(target=follow, args=(name, processes[name], lock, failures))
        reader.start()
        readers.append(reader)
    for reader in readers:
        reader.join()
    return dict((name, process.wait()) for name, process in processes.items()), failures


def main(argv):
    started = time.monotonic()
    print('[test] building the images both streams use (a no-op when they are up to date)', flush=True)
    from kargo_testlib import build_shared_images
    build_shared_images(lambda step: print('[test]   %s (at %.0f s)' % (step, time.monotonic() - started), flush=True))
    print('[time] shared images: %.0f s' % (time.monotonic() - started), flush=True)
    codes, failures = run_streams(stream_commands(sys.executable, integration_only='--integration-only' in argv))
    for name, code in codes.items():
        print('[test] stream %s: %s' % (name, 'passed' if code == 0 else 'FAILED (pytest exit status %d)' % code))
    if failures:
        print('[test] what failed:\n' + ''.join(failures), end='')
    print('[time] tests: %.0f s' % (time.monotonic() - started), flush=True)
    return exit_status(codes)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
