"""Shared test set-up: the collection importable as ansible_collections.geostack.kargo."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# Seconds spent in each test file (set-up of its fixtures included: the image builds are in
# test_images.py's, the labs in theirs), printed before pytest's closing line.
SECONDS_PER_FILE = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split('::', 1)[0]
    SECONDS_PER_FILE[path] = SECONDS_PER_FILE.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not SECONDS_PER_FILE:
        return
    terminalreporter.section('seconds per test file, in the order they ran')
    for path, seconds in SECONDS_PER_FILE.items():
        terminalreporter.write_line('%8.1f s  %s' % (seconds, path))
    terminalreporter.write_line('%8.1f s  in all' % sum(SECONDS_PER_FILE.values()))
