"""The roles' Molecule scenarios (converge, idempotence, verify), as a role developer runs them."""
import os
import subprocess
import sys

import pytest

from kargo_testlib import ROOT, build_images


@pytest.fixture(scope='module', autouse=True)
def images():
    """The scenarios deploy built images: built here when this file runs alone."""
    build_images(['postgis', 'proxy'])


@pytest.mark.parametrize('role', ['postgis', 'proxy'])
def test_molecule_scenario_passes(role):
    env = dict(os.environ, PATH=os.path.join(sys.prefix, 'bin') + os.pathsep + os.environ['PATH'])
    completed = subprocess.run([os.path.join(sys.prefix, 'bin', 'molecule'), 'test'],
                               cwd=os.path.join(ROOT, 'roles', role), env=env,
                               capture_output=True, text=True, timeout=900)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert 'idempotence' in output.lower()
