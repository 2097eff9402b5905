"""Prometheus metrics in the text exposition format, with kube-apiserver's metric and label names."""

from __future__ import annotations

import bisect
import resource as rlimit
from collections import defaultdict
from typing import Any

from aiohttp import web

from provisioner.services.api.status import ApiError
from provisioner.services.apiserver.paths import Target, parse

# kube-apiserver's apiserver_request_duration_seconds buckets.
DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
                    10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
_LONG_RUNNING = ("watch", "connect")


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0
        self.observations = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.observations += 1


def request_labels(request: web.Request) -> tuple[str, str, str, str, str, str]:
    """(verb, group, version, resource, subresource, scope) the way kube-apiserver labels a request."""
    try:
        addressed = parse(request.path)
    except ApiError:
        return (request.method.upper(), "", "", "", "", "")
    if not isinstance(addressed, Target):
        return (request.method.upper(), "", "", "", "", "")
    target = addressed
    method = request.method
    if method == "GET":
        if target.subresource in ("log", "exec", "attach", "portforward", "proxy"):
            verb = "CONNECT"
        elif target.is_collection:
            verb = "WATCH" if request.query.get("watch") in ("true", "1") else "LIST"
        else:
            verb = "GET"
    elif method == "DELETE" and target.is_collection:
        verb = "DELETECOLLECTION"
    else:
        verb = {"PUT": "PUT", "POST": "POST", "PATCH": "PATCH", "DELETE": "DELETE"}.get(method, method)
    if target.name:
        scope = "resource"
    elif target.namespace:
        scope = "namespace"
    else:
        scope = "cluster"
    r = target.resource
    return (verb, r.group, r.version, r.plural, target.subresource, scope)


class Metrics:
    def __init__(self) -> None:
        self._requests: dict[tuple[str, ...], int] = defaultdict(int)
        self._durations: dict[tuple[str, ...], _Histogram] = defaultdict(_Histogram)

    def observe(self, request: web.Request, code: int, seconds: float) -> None:
        verb, group, version, resource, subresource, scope = request_labels(request)
        dry_run = "All" if request.query.get("dryRun") == "All" else ""
        self._requests[(verb, dry_run, group, version, resource, subresource, scope, "apiserver", str(code))] += 1
        if verb.lower() not in _LONG_RUNNING:
            self._durations[(verb, dry_run, group, version, resource, subresource, scope, "apiserver")].observe(
                seconds)

    def render(self) -> bytes:
        lines = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, dry run value, "
            "group, version, resource, scope, component, and HTTP response code.",
            "# TYPE apiserver_request_total counter",
        ]
        request_names = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component",
                         "code")
        for labels, count in sorted(self._requests.items()):
            lines.append(f"apiserver_request_total{{{_labels(request_names, labels)}}} {count}")
        lines += [
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, dry "
            "run value, group, version, resource, subresource, scope and component.",
            "# TYPE apiserver_request_duration_seconds histogram",
        ]
        duration_names = request_names[:-1]
        for labels, histogram in sorted(self._durations.items()):
            base = _labels(duration_names, labels)
            cumulative = 0
            for bound, count in zip(DURATION_BUCKETS, histogram.counts, strict=False):
                cumulative += count
                lines.append(f'apiserver_request_duration_seconds_bucket{{{base},le="{bound:g}"}} {cumulative}')
            lines.append(f'apiserver_request_duration_seconds_bucket{{{base},le="+Inf"}} {histogram.observations}')
            lines.append(f"apiserver_request_duration_seconds_sum{{{base}}} {histogram.total:.6f}")
            lines.append(f"apiserver_request_duration_seconds_count{{{base}}} {histogram.observations}")
        lines += [
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {_rss_bytes()}",
        ]
        return ("\n".join(lines) + "\n").encode()


def _labels(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    return ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * rlimit.getpagesize()
    except OSError:
        return 0
