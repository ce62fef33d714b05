"""WSGI entry point of the kargo MapProxy image (served by gunicorn).

MAPPROXY_CONFIG (default /mapproxy/mapproxy.yaml) is the configuration to serve.
MAPPROXY_RELOAD=1 makes MapProxy re-read it when the file changes (development).
"""
import logging
import os

from mapproxy.wsgiapp import make_wsgi_app

logging.basicConfig(
    level=os.environ.get("MAPPROXY_LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
)

application = make_wsgi_app(
    os.environ.get("MAPPROXY_CONFIG", "/mapproxy/mapproxy.yaml"),
    reloader=os.environ.get("MAPPROXY_RELOAD", "0") in ("1", "true", "yes"),
)
