"""Raw-HTTP helpers for the apiserver tests: one request at a time, JSON in and out, and watch streams read event
by event while the test keeps writing on other connections."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from tests.unit.apiserver.conftest import LocalApiserver

JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def _connect(server: LocalApiserver, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def request(server: LocalApiserver, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, who: str | None = "admin"
            ) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; the response headers keep repeated names (``headers.get_all("Warning")``)."""
    connection = _connect(server, 10)
    all_headers = dict(server.headers(who)) if who else {}
    all_headers.update(headers or {})
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.headers, data


def status_of(data: bytes) -> dict:
    status = json.loads(data)
    assert status["kind"] == "Status" and status["apiVersion"] == "v1" and status["status"] == "Failure"
    return status


class Api:
    """JSON calls as one user: ``api.post(path, body)`` → (status code, decoded body)."""

    def __init__(self, server: LocalApiserver, who: str | None = "admin") -> None:
        self.server = server
        self.who = who

    def call(self, method: str, path: str, body: Any = None, content_type: str = JSON,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        code, _, data = self.call_with_headers(method, path, body, content_type, headers)
        return code, data

    def call_with_headers(self, method: str, path: str, body: Any = None, content_type: str = JSON,
                          headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, Any]:
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        code, response_headers, data = request(self.server, method, path, raw, all_headers, who=self.who)
        return code, response_headers, json.loads(data) if data else None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self.call("GET", path, headers=headers)

    def post(self, path: str, body: Any, content_type: str = JSON) -> tuple[int, Any]:
        return self.call("POST", path, body, content_type)

    def put(self, path: str, body: Any) -> tuple[int, Any]:
        return self.call("PUT", path, body)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> tuple[int, Any]:
        return self.call("PATCH", path, body, content_type)

    def delete(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call("DELETE", path, body)

    def ok(self, method: str, path: str, body: Any = None, content_type: str = JSON) -> Any:
        """The decoded body of a call that must succeed."""
        code, data = self.call(method, path, body, content_type)
        assert code < 300, (code, data)
        return data


class WatchStream:
    """An open watch: ``next()`` returns the next event (or None once the server ended the stream)."""

    def __init__(self, server: LocalApiserver, path: str, headers: dict[str, str] | None = None,
                 who: str = "admin", read_timeout: float = 5.0) -> None:
        self._connection = _connect(server, read_timeout)
        self._connection.request("GET", path, headers={**server.headers(who), **(headers or {})})
        self._response = self._connection.getresponse()
        self.status = self._response.status
        self.content_type = self._response.getheader("Content-Type", "")

    def next(self) -> dict[str, Any] | None:
        line = self._response.readline()
        return json.loads(line) if line else None

    def take(self, count: int) -> list[dict[str, Any]]:
        events = []
        for _ in range(count):
            event = self.next()
            assert event is not None, f"the stream ended after {events}"
            events.append(event)
        return events

    def until_end(self) -> list[dict[str, Any]]:
        """Every remaining event, up to the end of the stream (timeoutSeconds)."""
        events = []
        while (event := self.next()) is not None:
            events.append(event)
        return events

    def body(self) -> bytes:
        return self._response.read()

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, metadata.name) of each event; bookmarks have no name."""
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]
