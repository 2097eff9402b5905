"""``cluster.yaml`` → Cluster: read the YAML (lines kept), check apiVersion and kind, validate every field
(pydantic), check across fields, then apply the defaults that depend on other fields. Every problem found on the
way is reported together in one SpecError, sorted by line.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from provisioner.errors import Problem, SpecError
from provisioner.spec.checks import Sections, check
from provisioner.spec.document import Document, Finding, Loc, read_document, render_path
from provisioner.spec.fields import describe
from provisioner.spec.model import (
    API_VERSION,
    KIND,
    Cluster,
    ClusterFile,
    ClusterSpec,
    ControlPlaneSpec,
    MachinesProvider,
    Metadata,
    NetworkSpec,
    NodeGroup,
    PkiSpec,
    ProviderSpec,
    SpecModel,
    VagrantProvider,
)

# What a value of each pydantic type error should have been, in YAML terms.
_EXPECTED = {
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "tuple_type": "a list",
}
_DNS_IP_OFFSET = 10  # kubeadm's choice: the 10th address of the service CIDR

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", ControlPlaneSpec, NodeGroup)


def load(path: str | Path) -> Cluster:
    """The cluster spec in the file at ``path``; relative paths in it are relative to its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError([Problem(str(path), None, "", f"cannot read the file: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        raise SpecError([Problem(str(path), None, "", f"not UTF-8 text: {error.reason}")]) from None
    source = path.absolute()
    return _cluster(text, str(path), source, source.parent)


def parse(text: str, filename: str = "<string>") -> Cluster:
    """The cluster spec in ``text``; ``filename`` only names it in problems. Relative paths in it are relative to
    the working directory."""
    return _cluster(text, filename, None, Path.cwd())


def dump(cluster: Cluster) -> str:
    """The fully defaulted spec in the file format; ``parse(dump(cluster))`` gives the same cluster."""
    spec = {
        "provider": cluster.provider,
        "network": cluster.network,
        "controlPlane": cluster.control_plane,
        "nodeGroups": cluster.node_groups,
        "pki": cluster.pki,
        "bootstrapToken": cluster.bootstrap_token,
    }
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": cluster.name},
        "spec": {key: _plain(value) for key, value in spec.items()},
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _plain(value: SpecModel | tuple[SpecModel, ...]) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value.model_dump(mode="json", by_alias=True, exclude_none=True)


def _cluster(text: str, filename: str, source: Path | None, base_dir: Path) -> Cluster:
    document = read_document(text, filename)
    data = document.data
    if not isinstance(data, dict):
        raise SpecError([Problem(filename, document.line_of(()) or 1, "",
                                 f"must be a mapping with apiVersion, kind, metadata and spec; got {describe(data)}")])
    findings = list(document.duplicates)
    identity = list(_identity(data))
    if identity:
        # Another kind or version has another schema: checking the rest against ours would only add noise.
        raise _spec_error(findings + identity, document, filename)
    try:
        cluster_file = ClusterFile.model_validate(data)
    except ValidationError as error:
        findings += [_from_pydantic(details) for details in error.errors(include_url=False)]
        findings += check(_salvage(data))
        raise _spec_error(findings, document, filename) from None
    findings += check(_sections(cluster_file))
    if findings:
        raise _spec_error(findings, document, filename)
    return _defaulted(cluster_file, source, base_dir)


def _identity(data: dict[Any, Any]) -> list[Finding]:
    findings = []
    for key, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        if key not in data:
            findings.append(Finding((key,), f"is required and must be {expected!r}"))
        elif data[key] != expected:
            findings.append(Finding((key,), f"must be {expected!r}; got {describe(data[key])}"))
    return findings


def _spec_error(findings: list[Finding], document: Document, filename: str) -> SpecError:
    problems = [Problem(filename, document.line_of(finding.loc), render_path(finding.loc), finding.message)
                for finding in findings]
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda problem: (problem.line is None, problem.line or 0))
    return SpecError(unique)


# --- pydantic errors in the user's terms ------------------------------------------------------------------------

def _from_pydantic(details: ErrorDetails) -> Finding:
    # A bad mapping key is reported at the key itself.
    loc = tuple(part for part in details["loc"] if part != "[key]")
    kind, given = details["type"], details.get("input")
    if kind in ("extra_forbidden", "invalid_key"):  # invalid_key: a key that is not even a string
        return Finding(loc, _unknown_field(loc))
    if kind == "missing":
        return Finding(loc, "is required")
    if kind == "value_error":
        return Finding(loc, str(details.get("ctx", {}).get("error", details["msg"])))
    if kind in _EXPECTED:
        return Finding(loc, f"must be {_EXPECTED[kind]}; got {describe(given)}")
    if kind == "string_too_short":
        return Finding(loc, "must not be empty")
    return Finding(loc, f"{details['msg'].replace('Input should be', 'must be')}; got {describe(given)}")


def _unknown_field(loc: Loc) -> str:
    key = loc[-1]
    model = _model_at(loc[:-1])
    known = [info.alias or name for name, info in model.model_fields.items()] if model else []
    by_lower = {field.lower(): field for field in known}
    close = difflib.get_close_matches(str(key).lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f"unknown field {key!r}; did you mean {by_lower[close[0]]!r}?"
    return f"unknown field {key!r}; known fields: {', '.join(known)}" if known else f"unknown field {key!r}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` (list positions are skipped)."""
    model: type[BaseModel] | None = ClusterFile
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        by_alias = {info.alias or name: info for name, info in model.model_fields.items()}
        model = _model_in(by_alias[part].annotation) if part in by_alias else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        if model := _model_in(argument):
            return model
    return None


# --- sections for the cross-field checks ------------------------------------------------------------------------

def _sections(cluster_file: ClusterFile) -> Sections:
    spec = cluster_file.spec
    return Sections(cluster_file.metadata.name, spec.provider, spec.network, spec.control_plane, spec.node_groups,
                    spec.pki)


def _salvage(data: dict[Any, Any]) -> Sections:
    """What the cross-field checks can use of a file with field errors: each section validated on its own, and
    of a section with errors, the fields that are valid (the others default and are marked unknown)."""
    unknown: set[Loc] = set()
    # A misspelt key may have been meant as any section that is missing, so those are not known either.
    if "spec" in data:
        spec = data["spec"]
    else:
        spec = {} if _spelt_right(ClusterFile, data) else None
    if not isinstance(spec, dict):
        return Sections(None, None, None, None, (), None)
    complete = _spelt_right(ClusterSpec, spec)

    def section(key: str, model: type[M]) -> M | None:
        if key not in spec:
            return model() if complete else None
        return _partial(model, spec[key], ("spec", key), unknown)

    metadata = _partial(Metadata, data.get("metadata"), ("metadata",), unknown)
    groups = spec.get("nodeGroups", [])
    return Sections(
        name=metadata.name if metadata is not None else None,
        provider=section("provider", ProviderSpec),
        network=section("network", NetworkSpec),
        control_plane=section("controlPlane", ControlPlaneSpec),
        node_groups=tuple(_partial(NodeGroup, group, ("spec", "nodeGroups", position), unknown)
                          for position, group in enumerate(groups)) if isinstance(groups, list) else (),
        pki=section("pki", PkiSpec),
        unknown=frozenset(unknown),
    )


def _aliases(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _spelt_right(model: type[BaseModel], data: dict[Any, Any]) -> bool:
    return all(key in _aliases(model) for key in data)


def _partial(model: type[M], data: Any, loc: Loc, unknown: set[Loc]) -> M | None:
    """``data`` as ``model`` without its invalid fields, which are added to ``unknown``; None if even that fails
    (not a mapping, a required field invalid)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        if not isinstance(data, dict):
            return None
        invalid = {details["loc"][0] for details in error.errors() if details["loc"]}
    valid = {key: value for key, value in data.items() if key not in invalid}
    try:
        instance = model.model_validate(valid)
    except ValidationError:
        return None
    fields = _aliases(model)
    lost = fields - valid.keys() if not _spelt_right(model, data) else invalid & fields
    unknown.update((*loc, field) for field in lost)
    return instance


# --- defaults that depend on other fields -----------------------------------------------------------------------

def _defaulted(cluster_file: ClusterFile, source: Path | None, base_dir: Path) -> Cluster:
    spec = cluster_file.spec
    provider = spec.provider
    ssh = provider.type == "ssh"
    network = spec.network
    if network.dns_ip is None:
        network = network.model_copy(update={"dns_ip": network.service_cidr.network_address + _DNS_IP_OFFSET})
    return Cluster(
        name=cluster_file.metadata.name,
        source=source,
        provider=_provider_defaults(provider, base_dir),
        network=network,
        control_plane=_count_hosts(spec.control_plane) if ssh else spec.control_plane,
        node_groups=tuple(_count_hosts(group) if ssh else group for group in spec.node_groups),
        pki=spec.pki,
        bootstrap_token=spec.bootstrap_token,
    )


def _provider_defaults(provider: ProviderSpec, base_dir: Path) -> ProviderSpec:
    if provider.type == "machines":
        return provider.model_copy(update={"machines": provider.machines or MachinesProvider()})
    if provider.type == "vagrant":
        return provider.model_copy(update={"vagrant": provider.vagrant or VagrantProvider()})
    assert provider.ssh is not None, "checked: the ssh provider needs its section"
    key = Path(os.path.normpath(base_dir / provider.ssh.private_key.expanduser()))
    return provider.model_copy(update={"ssh": provider.ssh.model_copy(update={"private_key": key})})


def _count_hosts(pool: P) -> P:
    """With ssh a pool has as many machines as hosts (count, if given, was checked to agree)."""
    return pool.model_copy(update={"count": len(pool.hosts)})
