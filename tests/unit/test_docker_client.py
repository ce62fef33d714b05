"""Which image references name a registry host (their swarm fingerprint is the registry's digest)."""
import pytest

from ansible_collections.geostack.kargo.plugins.module_utils.docker_client import names_registry_host


@pytest.mark.parametrize('reference, expected', [
    ('10.77.0.10:5000/geostack-kargo/qgis-server:0.1.0', True),
    ('registry.example.org/gis/mapproxy:7', True),
    ('localhost/proxy:1', True),
    ('docker.io/postgis/postgis:17-3.5', True),
    ('geostack-kargo/postgis:0.1.0', False),
    ('kargo-test/busybox:1', False),
    ('nginx:1.28', False),
    ('busybox', False),
])
def test_names_registry_host(reference, expected):
    assert names_registry_host(reference) is expected
