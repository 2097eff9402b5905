"""The Kubernetes version this implementation speaks: what ``/version`` and the OpenAPI documents report, and what
a kubelet writes into ``Node.status.nodeInfo`` (kubectl prints it as the node's VERSION)."""

MAJOR = "1"
MINOR = "37"
GIT_VERSION = f"v{MAJOR}.{MINOR}.0"
