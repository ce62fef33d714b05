"""The MapProxy image's gunicorn settings (roles/images/files/mapproxy-gunicorn.conf.py):
the drain on SIGTERM that swarm mode turns on."""
import importlib.util
import os
import time

import pytest

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    'roles', 'images', 'files', 'mapproxy-gunicorn.conf.py')


def load_conf(monkeypatch, drain):
    monkeypatch.setenv('MAPPROXY_DRAIN_SECONDS', drain)
    spec = importlib.util.spec_from_file_location('mapproxy_gunicorn_conf', CONF)
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


class Arbiter:
    """What when_ready uses of gunicorn's arbiter: handle_term (stops it) and log."""

    def __init__(self):
        self.stopped_at = None
        self.said = []
        self.log = self

    def info(self, message, *args):
        self.said.append(message % args)

    def handle_term(self):
        self.stopped_at = time.monotonic()


def test_sigterm_stops_only_after_the_drain(monkeypatch):
    conf = load_conf(monkeypatch, '0')
    arbiter = Arbiter()
    conf.when_ready(arbiter)
    assert conf.drain_seconds == 0
    arbiter.handle_term()     # no drain: the arbiter's own handler, at once
    assert arbiter.said == []

    conf = load_conf(monkeypatch, '1')
    arbiter = Arbiter()
    conf.when_ready(arbiter)
    signalled = time.monotonic()
    arbiter.handle_term()
    assert arbiter.stopped_at - signalled >= 1.0
    assert arbiter.said == ['SIGTERM: serving 1 s more before stopping (MAPPROXY_DRAIN_SECONDS)']


def test_a_drain_time_that_is_not_a_number_is_refused_naming_the_variable(monkeypatch):
    with pytest.raises(SystemExit, match="MAPPROXY_DRAIN_SECONDS must be a whole number, not 'soon'"):
        load_conf(monkeypatch, 'soon')
