# gunicorn settings of the kargo MapProxy image; every value can be set by env.
# MAPPROXY_PROCESSES (default 2) worker processes, MAPPROXY_THREADS (default 4)
# threads each (MapProxy is thread-safe and mostly waits on its sources).
import os
import time

bind = os.environ.get("MAPPROXY_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("MAPPROXY_PROCESSES", "2"))
threads = int(os.environ.get("MAPPROXY_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("MAPPROXY_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# 0: workers are never replaced (a replaced gthread worker drops the connections queued
# on it, and the proxy answers 502 for them); N > 0 replaces each after about N requests
max_requests = int(os.environ.get("MAPPROXY_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# the proxy in front sets X-Forwarded-*; MapProxy builds URLs from them
forwarded_allow_ips = os.environ.get("MAPPROXY_FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("MAPPROXY_GUNICORN_LOG_LEVEL", "info")
worker_tmp_dir = "/dev/shm"
chdir = "/opt/mapproxy"
wsgi_app = "wsgi:application"

# MAPPROXY_DRAIN_SECONDS (swarm mode): on SIGTERM, go on serving this long, then stop.
# Swarm takes a task out of its DNS before it stops it, but the proxy's node may learn
# it later, and the proxy keeps an answer proxy_resolver_valid: a replica that closed
# its port at once would, once gone, still be asked (and the request wait for the
# proxy's connect timeout).
drain_text = os.environ.get("MAPPROXY_DRAIN_SECONDS", "0")
if not drain_text.isdigit():
    raise SystemExit("MAPPROXY_DRAIN_SECONDS must be a whole number, not '%s'" % drain_text)
drain_seconds = int(drain_text)


def when_ready(server):
    if drain_seconds <= 0:
        return
    stop = server.handle_term

    def drain_then_stop():
        server.log.info("SIGTERM: serving %d s more before stopping (MAPPROXY_DRAIN_SECONDS)", drain_seconds)
        time.sleep(drain_seconds)
        stop()

    server.handle_term = drain_then_stop
