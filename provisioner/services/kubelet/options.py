"""``provision-kubelet``'s flags, in the upstream kubelet's spelling; every value is checked while parsing, so a bad
one ends the process with status 2 and a message naming its flag."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provisioner.services.api.duration import parse_duration
from provisioner.services.api.nodes import (
    KUBELET_OWN_LABEL_NAMESPACES,
    KUBELET_OWN_LABELS,
    kubelet_may_set_label,
)
from provisioner.services.api.selectors import label_key_errors, label_value_errors
from provisioner.services.api.validation import dns1123_subdomain_errors

ROOT_DIR = Path("/var/lib/provision/kubelet")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")



def node_labels(text: str) -> dict[str, str]:
    """``key=value,key2=value2`` (empty values allowed)."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        problems = [f"key {key!r} {m}" for m in label_key_errors(key)]
        problems += [f"value {value!r} {m}" for m in label_value_errors(value)] if value else []
        if not problems and not kubelet_may_set_label(key):
            problems.append(f"key {key!r} is in a kubernetes.io/k8s.io namespace a kubelet may not set (allowed "
                            f"there: {', '.join(sorted(KUBELET_OWN_LABELS))} and {', '.join(KUBELET_OWN_LABEL_NAMESPACES)}/*)")
        if problems:
            raise argparse.ArgumentTypeError("; ".join(problems))
        labels[key] = value
    return labels


def taints(text: str) -> list[dict[str, str]]:
    """``key=value:Effect`` or ``key:Effect``, comma-separated."""
    result: list[dict[str, str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_value, sep, effect = item.rpartition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"{item!r}: expected key=value:Effect or key:Effect")
        key, _, value = key_value.partition("=")
        problems = [f"key {key!r} {m}" for m in label_key_errors(key)]
        problems += [f"value {value!r} {m}" for m in label_value_errors(value)] if value else []
        if effect not in TAINT_EFFECTS:
            problems.append(f"effect {effect!r} is not one of {', '.join(TAINT_EFFECTS)}")
        if any(t["key"] == key and t["effect"] == effect for t in result):
            problems.append(f"a second taint with key {key!r} and effect {effect}")
        if problems:
            raise argparse.ArgumentTypeError(f"{item!r}: " + "; ".join(problems))
        result.append({"key": key, **({"value": value} if value else {}), "effect": effect})
    return result


def positive_duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be positive")
    return seconds


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {text!r}")
    return int(text)


def node_name(text: str) -> str:
    """A Node name: host names are case-insensitive, Node names lower case."""
    name = text.strip().lower()
    problems = dns1123_subdomain_errors(name)
    if problems:
        raise argparse.ArgumentTypeError(f"{name!r} is not a valid node name: " + "; ".join(problems))
    return name


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision-kubelet",
                                description="Register this machine as a Node and keep its status and Lease fresh.")
    p.add_argument("--kubeconfig", type=Path, required=True, metavar="PATH",
                   help="credentials of system:node:NAME; written by the TLS bootstrap when missing or expired")
    p.add_argument("--bootstrap-kubeconfig", type=Path, default=None, metavar="PATH",
                   help="bootstrap-token credentials used to request a client certificate (TLS bootstrap)")
    p.add_argument("--cert-dir", type=Path, default=ROOT_DIR / "pki", metavar="DIR",
                   help="where the client certificate and key are kept (default %(default)s)")
    p.add_argument("--root-dir", type=Path, default=ROOT_DIR, metavar="DIR",
                   help="the kubelet's state; its filesystem is the node's ephemeral storage (default %(default)s)")
    p.add_argument("--hostname-override", type=node_name, default=None, metavar="NAME",
                   help="the Node's name (default: this host's name, lower case)")
    p.add_argument("--node-ip", type=ip_address, default=None, metavar="IP",
                   help="the InternalIP to report (default: the address of the default route's interface)")
    p.add_argument("--node-labels", type=node_labels, default={}, metavar="K=V,…",
                   help="labels added to the Node when registering")
    p.add_argument("--register-with-taints", type=taints, default=[], metavar="KEY=VALUE:EFFECT,…",
                   help="taints the Node is created with")
    p.add_argument("--node-status-update-frequency", type=positive_duration, default=10.0, metavar="DURATION",
                   help="how often the Node's status is posted (default 10s)")
    p.add_argument("--node-lease-duration-seconds", type=positive_int, default=40, metavar="SECONDS",
                   help="the Lease's duration; it is renewed every quarter of it (default %(default)s)")
    p.add_argument("--healthz-bind-address", type=ip_address, default="127.0.0.1", metavar="IP",
                   help="address of the plain-HTTP /healthz (default %(default)s)")
    p.add_argument("--healthz-port", type=port, default=10248, metavar="PORT",
                   help="port of /healthz; 0 disables it (default %(default)s)")
    p.add_argument("-v", "--v", type=int, default=0, dest="verbosity", help="log verbosity (4+: debug)")
    return p


def parse_args(argv: Sequence[str] | None = None, hostname: str | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.hostname_override is None:
        host = hostname if hostname is not None else socket.gethostname()
        try:
            args.hostname_override = node_name(host)
        except argparse.ArgumentTypeError as err:
            parser.error(f"argument --hostname-override: this host's name cannot be the node name: {err}")
    for name in ("kubeconfig", "bootstrap_kubeconfig", "cert_dir", "root_dir"):
        value: Any = getattr(args, name)
        if value is not None:
            setattr(args, name, value.expanduser().absolute())  # the kubeconfig written refers to cert-dir
    return args
