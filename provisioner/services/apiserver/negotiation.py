"""Media types: what a request body is, and what representation the client accepts back."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from provisioner.services.api.decode import loads_checking_duplicates
from provisioner.services.api.status import ApiError, bad_request

JSON = "application/json"
YAML = "application/yaml"
ACCEPTED_BODY_TYPES = (JSON, YAML)
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"



class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that keeps timestamps as strings, as Kubernetes' YAML→JSON conversion does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def media_type(header: str) -> tuple[str, dict[str, str]]:
    """``application/json;as=Table;v=v1`` → (``application/json``, {as: Table, v: v1})."""
    base, *params = header.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, value = param.partition("=")
        if key.strip():
            parsed[key.strip().lower()] = value.strip().strip('"')
    return base.strip().lower(), parsed


def accepts_table(accept: str) -> bool:
    """True when the client asks for ``meta.k8s.io`` Tables first (kubectl get's human output)."""
    for item in accept.split(","):
        base, params = media_type(item)
        if base == JSON and params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def accepts_aggregated_discovery(accept: str) -> bool:
    for item in accept.split(","):
        base, params = media_type(item)
        if base == JSON and params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io":
            return True
    return False


def load_body(content_type: str, raw: bytes, *, check_duplicates: bool = False) -> Any:
    """Decode a create/update body; JSON and YAML are accepted, anything else is 415.

    ``check_duplicates`` (fieldValidation=Strict) parses with a slower decoder that remembers repeated keys.
    """
    base, _ = media_type(content_type or JSON)
    if base == JSON or base == "*/*":
        if check_duplicates and raw.strip():
            try:
                return loads_checking_duplicates(raw)
            except ValueError as err:
                raise bad_request(f"the body of the request is not valid JSON: {err}") from None
        return load_json(raw)
    if base == YAML:
        return load_yaml_or_json(raw)
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(ACCEPTED_BODY_TYPES)}",
        "UnsupportedMediaType",
    )


def load_json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("the request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"the body of the request is not valid JSON: {err}") from None


def load_yaml_or_json(raw: bytes) -> Any:
    stripped = raw.lstrip()
    if stripped[:1] in (b"{", b"["):
        return load_json(raw)
    if not stripped:
        raise bad_request("the request body is empty")
    try:
        return yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        raise bad_request(f"the body of the request is not valid YAML: {err}") from None
