"""The parsing of wrk's report (tests/integration/load_runs.py), on reports as wrk 4.1
prints them."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration'))
from load_runs import longest_gap, parse_wrk  # noqa: E402

CLEAN = """Running 3s test @ https://localhost:18443/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.90ms    3.56ms  43.22ms   74.88%
    Req/Sec     4.69k   472.23     5.51k    70.00%
  Latency Distribution
     50%    6.26ms
     75%    8.22ms
     90%   11.04ms
     99%   19.57ms
  28013 requests in 3.00s, 95.17MB read
Requests/sec:   9334.35
Transfer/sec:     31.71MB
"""
FAILING = """Running 10s test @ https://localhost:18443/mapproxy/wmts/countries/webmercator/2/2/1.png
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    45.10ms  120.33ms   1.01s    95.12%
    Req/Sec   527.31    101.21   701.00     71.00%
  Latency Distribution
     50%   12.00ms
     75%   17.50ms
     90%   30.10ms
     99%  756.00ms
  10512 requests in 10.00s, 180.21MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 6
Requests/sec:   1051.20
Transfer/sec:     18.02MB
"""


def test_a_clean_run_has_no_failure():
    assert parse_wrk(CLEAN) == {'requests': 28013, 'seconds': 3.0, 'rps': 9334.35, 'p50_ms': 6.26, 'p99_ms': 19.57,
                                'socket_errors': 0, 'non_2xx': 0, 'failed': 0, 'errors': {}}


def test_socket_errors_and_non_2xx_answers_are_failures():
    parsed = parse_wrk(FAILING)
    assert (parsed['socket_errors'], parsed['non_2xx'], parsed['failed']) == (5, 6, 11)
    assert parsed['errors'] == {'read': 3, 'timeout': 2}
    assert parsed['p99_ms'] == 756.0 and parsed['rps'] == 1051.2


def test_seconds_and_microseconds_are_milliseconds():
    assert parse_wrk(CLEAN.replace('19.57ms', '1.20s').replace('6.26ms', '950.00us'))['p99_ms'] == 1200.0
    assert parse_wrk(CLEAN.replace('6.26ms', '950.00us'))['p50_ms'] == pytest.approx(0.95)


def test_what_is_no_wrk_report_is_named():
    with pytest.raises(ValueError, match='not a wrk report'):
        parse_wrk('wrk: command not found')


def test_the_longest_gap_runs_from_the_last_good_answer_to_the_next_good_one():
    answers = [(0.0, 0.1, True), (0.2, 0.3, False), (0.4, 0.5, True),   # 0.4 s
               (0.6, 0.7, True), (0.8, 5.8, False), (5.9, 6.0, False), (6.1, 6.2, True)]   # 6.2 - 0.7
    assert longest_gap(answers) == pytest.approx(5.5)


def test_no_failure_is_no_gap_and_failures_at_the_end_count_to_the_last_request():
    assert longest_gap([(0.0, 0.1, True), (0.2, 0.3, True)]) == 0.0
    assert longest_gap([]) == 0.0
    assert longest_gap([(0.0, 0.1, True), (0.2, 0.3, False), (0.4, 1.5, False)]) == pytest.approx(1.4)
