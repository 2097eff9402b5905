"""Durability: SIGKILL the apiserver while a client writes; every acknowledged write survives the restart, and a
watch resumed from its last resourceVersion sees every later change exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from provisioner import dev

pytestmark = pytest.mark.integration

KILL_AFTER_WRITES = 150


def _api(kubeconfig: Path) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.retries = 0
    return client.CoreV1Api(client.ApiClient(configuration))


def _apiserver_pid(directory: Path) -> int:
    state = json.loads((directory / "dev.json").read_text())
    return next(c["pid"] for c in state["components"] if c["name"] == "apiserver")


def test_sigkill_loses_no_acknowledged_write_and_watch_resumes(tmp_path: Path) -> None:
    cluster = dev.up(tmp_path)
    try:
        core = _api(cluster.kubeconfig)
        core.create_namespace({"metadata": {"name": "durable"}})
        start_rv = core.list_namespaced_config_map("durable").metadata.resource_version

        acknowledged: dict[str, int] = {}
        stop_writing = threading.Event()

        def writer() -> None:
            index = 0
            while not stop_writing.is_set():
                try:
                    created = core.create_namespaced_config_map(
                        "durable", {"metadata": {"name": f"cm-{index}"}, "data": {"i": str(index)}},
                        _request_timeout=5)
                except (ApiException, HTTPError, OSError):
                    return  # the server died under us; this write was never acknowledged
                acknowledged[created.metadata.name] = int(created.metadata.resource_version)
                index += 1

        thread = threading.Thread(target=writer)
        thread.start()
        while len(acknowledged) < KILL_AFTER_WRITES and thread.is_alive():
            time.sleep(0.01)
        os.kill(_apiserver_pid(tmp_path), signal.SIGKILL)
        stop_writing.set()
        thread.join(30)
        assert len(acknowledged) >= KILL_AFTER_WRITES

        dev.up(tmp_path)  # restarts the dead apiserver on the same store
        core = _api(cluster.kubeconfig)
        stored = {c.metadata.name: int(c.metadata.resource_version)
                  for c in core.list_namespaced_config_map("durable").items}
        lost = {name for name in acknowledged if name not in stored}
        assert not lost, f"acknowledged writes lost after SIGKILL: {sorted(lost)[:10]}"
        assert all(stored[name] == rv for name, rv in acknowledged.items())

        # A watch resumed from before the crash replays every change after it, in order, once each.
        core.create_namespaced_config_map("durable", {"metadata": {"name": "after-restart"}})
        seen: list[tuple[str, int]] = []
        response = core.list_namespaced_config_map("durable", watch=True, resource_version=start_rv,
                                                   timeout_seconds=3, _preload_content=False)
        for raw in response.read().decode().splitlines():  # the stream ends after timeout_seconds
            event = json.loads(raw)
            assert event["type"] == "ADDED", event
            meta = event["object"]["metadata"]
            seen.append((meta["name"], int(meta["resourceVersion"])))
        revisions = [rv for _, rv in seen]
        assert revisions == sorted(set(revisions)), "events out of order or duplicated"
        assert {name for name, _ in seen} == set(stored) | {"after-restart"}
    finally:
        dev.down(tmp_path)
