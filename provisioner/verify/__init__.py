"""`provision verify`: host checks (pytest-testinfra over SSH, through the cluster's Ansible inventory) and
cluster checks (every machine a Ready Node, components healthy, apiserver ready), reported as JUnit XML."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from provisioner.verify.report import CheckResult, VerifyReport

if TYPE_CHECKING:
    from provisioner.verify.run import VerifyError, verify_cluster

__all__ = ["CheckResult", "VerifyError", "VerifyReport", "verify_cluster"]


def __getattr__(name: str) -> object:
    # Imported on first use: the host checks' pytest process imports this package as well and needs none of
    # the tool (half a second of imports).
    if name in ("VerifyError", "verify_cluster"):
        return getattr(importlib.import_module("provisioner.verify.run"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
