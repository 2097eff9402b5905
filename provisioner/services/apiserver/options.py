"""Request options, checked as kube-apiserver checks them before touching storage: ListOptions (which combinations
of resourceVersion, resourceVersionMatch, continue and sendInitialEvents are allowed), CreateOptions,
UpdateOptions, PatchOptions and DeleteOptions. A refusal is 422 Invalid ``<Kind>Options.meta.k8s.io ""``; a watch
refused this way makes client-go fall back to list+watch."""

from __future__ import annotations

from typing import Any

from provisioner.services.api.status import Cause, invalid
from provisioner.services.api.validation import forbidden, not_supported, required, too_long
from provisioner.services.api.validation import invalid as invalid_value

EXACT = "Exact"
NOT_OLDER_THAN = "NotOlderThan"
DRY_RUN_ALL = "All"
FIELD_VALIDATIONS = ("Ignore", "Strict", "Warn")
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")
FIELD_MANAGER_MAX_LENGTH = 128
_MATCH = "resourceVersionMatch"


def _raise_if_any(kind: str, causes: list[Cause]) -> None:
    if causes:
        raise invalid(kind, "meta.k8s.io", "", causes)


# ------------------------------------------------------------------------------------------------- list and watch
def _list_errors(query: Any) -> list[Cause]:
    causes: list[Cause] = []
    match = query.get(_MATCH, "")
    if match:
        if not query.get("resourceVersion"):
            causes.append(forbidden(_MATCH, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if query.get("continue"):
            causes.append(forbidden(_MATCH, "resourceVersionMatch is forbidden when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(not_supported(_MATCH, match, (EXACT, NOT_OLDER_THAN, "")))
        if match == EXACT and query.get("resourceVersion") == "0":
            causes.append(forbidden(_MATCH, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if "sendInitialEvents" in query:
        causes.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return causes


def _watch_errors(query: Any) -> list[Cause]:
    causes: list[Cause] = []
    match = query.get(_MATCH, "")
    if "sendInitialEvents" in query and match != NOT_OLDER_THAN:
        causes.append(forbidden(_MATCH, f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
    if match:
        if "sendInitialEvents" not in query:
            causes.append(forbidden(_MATCH, "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                            "provided"))
        if match != NOT_OLDER_THAN:
            causes.append(not_supported(_MATCH, match, (NOT_OLDER_THAN,)))
        if query.get("continue"):
            causes.append(forbidden(_MATCH, "resourceVersionMatch is forbidden when continue is provided"))
    return causes


def validate_list(query: Any, *, watch: bool) -> None:
    _raise_if_any("ListOptions", _watch_errors(query) if watch else _list_errors(query))


# ------------------------------------------------------------------------------------------------- writes
def _field_manager_errors(manager: str) -> list[Cause]:
    causes = [too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH)] if len(manager) > FIELD_MANAGER_MAX_LENGTH else []
    for position, char in enumerate(manager):
        if not char.isprintable():
            at = len(manager[:position].encode())  # Go counts bytes
            causes.append(invalid_value("fieldManager", manager, f"invalid character U+{ord(char):04X} (at "
                                                                 f"position {at})"))
    return causes


def _dry_run_errors(dry_run: list[str]) -> list[Cause]:
    if all(value == DRY_RUN_ALL for value in dry_run):
        return []
    return [not_supported("dryRun", dry_run, (DRY_RUN_ALL,))]


def _field_validation_errors(value: str) -> list[Cause]:
    return [] if value in ("", *FIELD_VALIDATIONS) else [not_supported("fieldValidation", value, FIELD_VALIDATIONS)]


def validate_write(kind: str, query: Any, *, apply: bool = False) -> None:
    """CreateOptions, UpdateOptions or PatchOptions (``kind``) from the query string."""
    manager = query.get("fieldManager", "")
    causes: list[Cause] = []
    if kind == "PatchOptions" and not apply and "force" in query:
        causes.append(forbidden("force", "may not be specified for non-apply patch"))
    if kind == "PatchOptions" and apply and not manager:
        causes.append(required("fieldManager", "is required for apply patch"))
    causes += _field_manager_errors(manager)
    causes += _dry_run_errors(query.getall("dryRun", []))
    causes += _field_validation_errors(query.get("fieldValidation", ""))
    _raise_if_any(kind, causes)


def validate_delete(options: dict[str, Any]) -> None:
    causes: list[Cause] = []
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is not None and policy is not None:
        causes.append(invalid_value("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot "
                                                                 "be both set"))
    if policy is not None and policy not in PROPAGATION_POLICIES:
        causes.append(not_supported("propagationPolicy", policy, (*PROPAGATION_POLICIES, "nil")))
    dry_run = options.get("dryRun") or []
    causes += _dry_run_errors(dry_run if isinstance(dry_run, list) else [dry_run])
    _raise_if_any("DeleteOptions", causes)
