"""The scheduler and the controller-manager of a dev cluster answer ``GET /healthz`` (plain HTTP) on the port their
log names — the dev cluster lets each pick a free one, as several clusters share this host."""

from __future__ import annotations

import http.client
import re
import time
from urllib.parse import urlsplit

import pytest

from provisioner import dev

pytestmark = pytest.mark.integration

WAIT_LIMIT = 30.0  # a hang guard: the line is logged at start


def healthz_url(cluster: dev.DevCluster, component: str) -> str:
    log = dev.DevPaths(cluster.dir).log_file(component)
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        found = re.findall(r"serving /healthz on (http://\S+)", log.read_text())
        if found:
            return found[-1]  # the latest start's
        assert time.monotonic() < deadline, f"{component} never logged its /healthz address:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.mark.parametrize("component", ["scheduler", "controller-manager"])
def test_control_loops_are_healthy(dev_cluster: dev.DevCluster, component: str) -> None:
    url = urlsplit(healthz_url(dev_cluster, component))
    assert (url.hostname, url.path) == ("127.0.0.1", "/healthz")
    # http.client rather than urllib: urllib would send loopback requests to an http_proxy from the environment.
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        connection.request("GET", url.path)
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"ok")
    finally:
        connection.close()
