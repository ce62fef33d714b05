"""Load runs with wrk (Debian's package, in the stack's tools image), bounded in time and
connections, only against this machine's loopback (or a lab's own addresses): what it
measured, parsed from its report."""
import itertools
import os
import re
import subprocess
import time

from kargo_testlib import built_names, engine

NUMBER = r'([0-9.]+)([a-zA-Z]*)'
# each load run's wrk container has a name of its own (several may run at once)
RUN_NUMBERS = itertools.count(1)
TO_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}
SOCKET_ERRORS = ('connect', 'read', 'write', 'timeout')
# the wrk script that makes each connection pause before each request (its delay() hook)
PACED_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'wrk_paced.lua')


def milliseconds(value, unit):
    return float(value) * TO_MS[unit]


def parse_wrk(report):
    """{requests, seconds, rps, p50_ms, p99_ms, socket_errors, non_2xx, failed, errors} of a
    `wrk --latency` report; failed = socket errors (connect, read, write, timeout) + non-2xx/3xx;
    errors: the socket errors by kind, those that happened."""
    done = re.search(r'^\s*([0-9]+) requests in ' + NUMBER, report, re.M)
    if not done:
        raise ValueError('not a wrk report: %r' % report[-500:])
    socket = re.search(r'Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)', report)
    socket_errors = dict(zip(SOCKET_ERRORS, (int(n) for n in socket.groups()))) if socket else {}
    non_2xx = re.search(r'Non-2xx or 3xx responses: ([0-9]+)', report)
    latency = dict((percent, milliseconds(value, unit))
                   for percent, value, unit in re.findall(r'^\s*(50|99)(?:\.0+)?%\s+' + NUMBER, report, re.M))
    result = {
        'requests': int(done.group(1)),
        'seconds': milliseconds(done.group(2), done.group(3) or 's') / 1000.0,
        'rps': float(re.search(r'Requests/sec:\s+([0-9.]+)', report).group(1)),
        'p50_ms': latency.get('50'), 'p99_ms': latency.get('99'),
        'socket_errors': sum(socket_errors.values()),
        'non_2xx': int(non_2xx.group(1)) if non_2xx else 0,
        'errors': dict((kind, n) for kind, n in socket_errors.items() if n),
    }
    result['failed'] = result['socket_errors'] + result['non_2xx']
    return result


def wrk_command(url, connections, seconds, threads, timeout, name=None, pause_ms=0, new_connections=False):
    """docker run of wrk against url from a container on the host's network; with
    pause_ms, each connection waits that long before each request (at most
    connections * 1000 / pause_ms requests a second: load that leaves the machine room).
    new_connections: each request on a connection of its own (Connection: close); an nginx
    reload closes the idle keep-alive connections, which wrk counts as read errors even
    when no request was lost on them (HTTP clients open them again), so a reload is
    measured with requests that each have their connection."""
    if not url.startswith(('https://localhost', 'http://localhost', 'https://127.', 'http://127.', 'https://10.')):
        raise ValueError('load goes only to this machine or a lab: %s' % url)
    engine()  # fails clearly when there is no engine
    mounts, script = [], []
    if pause_ms:
        mounts = ['-v', '%s:/kargo/paced.lua:ro' % PACED_SCRIPT, '-e', 'KARGO_WRK_PAUSE_MS=%d' % pause_ms]
        script = ['-s', '/kargo/paced.lua']
    return (['docker', 'run', '--rm'] + (['--name', name] if name else []) + mounts
            + ['--network', 'host', '--entrypoint', 'wrk', built_names()['tools'],
               '--latency', '-t', str(threads), '-c', str(connections), '-d', '%ds' % seconds,
               '--timeout', '%ds' % timeout] + (['-H', 'Connection: close'] if new_connections else []) + script + [url])


def run_wrk(url, connections, seconds, threads=2, timeout=10):
    """wrk against url for that many seconds; its parsed report."""
    done = subprocess.run(wrk_command(url, connections, seconds, threads, timeout),
                          capture_output=True, text=True, timeout=seconds + timeout + 60)
    if done.returncode != 0:
        raise AssertionError('wrk failed: %s %s' % (done.stdout[-1000:], done.stderr[-1000:]))
    return parse_wrk(done.stdout)


class LoadDuring:
    """`with LoadDuring(url, connections) as load:` wrk runs against url while the block
    runs (at most max_seconds), stopped at its end like Ctrl-C (wrk then reports what it
    measured); load.report is the parsed report. pause_ms, new_connections: as in wrk_command."""

    def __init__(self, url, connections, max_seconds=600, threads=2, timeout=10, pause_ms=0, new_connections=False):
        self.name = 'kargo-test-wrk-%d-%d' % (os.getpid(), next(RUN_NUMBERS))
        self.command = wrk_command(url, connections, max_seconds, threads, timeout, name=self.name,
                                   pause_ms=pause_ms, new_connections=new_connections)
        self.report = None

    def __enter__(self):
        subprocess.run(['docker', 'rm', '-f', self.name], capture_output=True)
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the block starts once wrk runs: stopped before that, it would run max_seconds
        for _attempt in range(60):
            running = subprocess.run(['docker', 'inspect', '--format', '{{.State.Running}}', self.name],
                                     capture_output=True, text=True)
            if running.stdout.strip() == 'true' or self.process.poll() is not None:
                break
            time.sleep(0.5)
        return self

    def __exit__(self, *_exception):
        subprocess.run(['docker', 'kill', '--signal', 'INT', self.name], capture_output=True)
        try:
            out, err = self.process.communicate(timeout=60)
        finally:
            subprocess.run(['docker', 'rm', '-f', self.name], capture_output=True)
        if self.process.returncode != 0:
            raise AssertionError('wrk failed: %s %s' % (out[-1000:], err[-1000:]))
        self.report = parse_wrk(out)


def longest_gap(answers):
    """Seconds without a good answer, the longest: from the last good answer before a run
    of failures to the end of the first good one after it. answers: (started, ended, good)
    per request, in order; failures at the very start or end (no good answer on one side)
    are not a gap that was measured whole, and count from/to the first/last request."""
    gap, last_good, failing_since = 0.0, None, None
    for started, ended, good in answers:
        if not good:
            if failing_since is None:
                failing_since = last_good if last_good is not None else started
            continue
        if failing_since is not None:
            gap = max(gap, ended - failing_since)
            failing_since = None
        last_good = ended
    if failing_since is not None and answers:
        gap = max(gap, answers[-1][1] - failing_since)
    return gap
