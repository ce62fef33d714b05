"""check_urls against a real HTTP server on loopback (the module's fetch: ansible's open_url)."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.module_utils.urls import open_url

from ansible_collections.geostack.kargo.plugins.module_utils.http_checks import check_urls
from ansible_collections.geostack.kargo.plugins.module_utils.waiting import ServiceFailure


class Handler(BaseHTTPRequestHandler):
    asked = {}

    def do_GET(self):
        Handler.asked[self.path] = Handler.asked.get(self.path, 0) + 1
        if self.path == '/ok':
            status = 200
        elif self.path == '/late':  # a proxy whose upstream is not resolved yet: 502 twice, then 200
            status = 502 if Handler.asked[self.path] <= 2 else 200
        elif self.path == '/host':
            status = 200 if self.headers.get('Host') == 'maps.example.org' else 421
        else:
            status = 502
        self.send_response(status)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'hi')

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    Handler.asked = {}
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()


def fetch(url, headers=None):
    with open_url(url, headers=headers or {}, timeout=5) as answer:
        answer.read()
        return answer.getcode()


def test_every_url_answers_and_the_late_one_is_asked_again(server):
    checks = [{'name': 'a', 'url': server + '/ok'}, {'name': 'b', 'url': server + '/late'}]
    answers = check_urls(checks, fetch, [200], timeout=10, interval=0.05)
    assert [(answer['name'], answer['status']) for answer in answers] == [('a', 200), ('b', 200)]
    assert Handler.asked == {'/ok': 1, '/late': 3}


def test_headers_are_sent(server):
    checks = [{'name': 'site', 'url': server + '/host'}]
    answers = check_urls(checks, lambda url: fetch(url, {'Host': 'maps.example.org'}), [200], timeout=2)
    assert answers[0]['status'] == 200


def test_failure_names_each_url_without_an_answer_and_why(server):
    checks = [{'name': 'proxy', 'url': server + '/ok'}, {'name': 'mapproxy', 'url': server + '/broken'},
              {'name': 'tiles', 'url': 'http://127.0.0.1:1/'}]
    with pytest.raises(ServiceFailure) as failure:
        check_urls(checks, fetch, [200], timeout=0.3, interval=0.1)
    message = str(failure.value)
    assert 'no expected answer (status 200) after 0.3s from:' in message
    assert 'mapproxy (%s/broken answered 502)' % server in message
    assert 'tiles (http://127.0.0.1:1/: ' in message and 'refused' in message.lower()
    assert ' proxy (' not in message  # it answered

