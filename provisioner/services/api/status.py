"""API errors as Kubernetes ``Status`` objects (kind Status, apiVersion v1) — the one error type every layer raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class Cause:
    """One ``details.causes[]`` entry, e.g. a validation failure of one field."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    code: int
    message: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    list_meta: dict[str, Any] = field(default_factory=dict)  # the Status's metadata, e.g. a fresh continue token

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = REASON_BY_CODE.get(self.code, "Unknown")
        super().__init__(self.message)

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind} if name else {"kind": kind}
    if group:
        details["group"] = group
    return details


def qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, f'{qualified(plural, group)} "{name}" not found', "NotFound", _details(name, group, plural))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, f'{qualified(plural, group)} "{name}" already exists', "AlreadyExists",
                    _details(name, group, plural))


def conflict(plural: str, group: str, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}', "Conflict",
                    _details(name, group, plural))


def _aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate's text: one message alone, several (without repeats) as ``[a, b]``."""
    distinct = list(dict.fromkeys(messages))
    return distinct[0] if len(distinct) == 1 else "[" + ", ".join(distinct) + "]"


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    summary = _aggregate([f"{c.field}: {c.message}" if c.field else c.message for c in causes])
    details = _details(name, group, kind)
    details["causes"] = [c.to_dict() for c in causes]
    return ApiError(422, f'{kind}.{group} "{name}" is invalid: {summary}' if group else
                    f'{kind} "{name}" is invalid: {summary}', "Invalid", details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")


def forbidden(user: str, verb: str, plural: str, group: str, namespace: str, name: str = "",
              subresource: str = "") -> ApiError:
    resource = f"{plural}/{subresource}" if subresource else plural
    what = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    where = f' in the namespace "{namespace}"' if namespace else (" at the cluster scope" if not name else "")
    return ApiError(403, f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
                         f'in API group "{group}"{where}', "Forbidden", _details(name, group, plural))


def expired(message: str) -> ApiError:
    return ApiError(410, message, "Expired")
