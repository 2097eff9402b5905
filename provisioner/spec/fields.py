"""Field types of the cluster spec: each parses one value of the file and says why it is wrong in the user's terms.

Every type is strict about the YAML type it reads (a port is an integer, a CIDR is a string) so that a value that
YAML turned into something else (``on`` → true, ``010`` → 8) is an error instead of a surprise.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import timedelta
from fractions import Fraction
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StrictInt, StrictStr

from provisioner.services.api.quantity import (
    BINARY_SI,
    Quantity,
    QuantityError,
    format_quantity,
    parse_quantity,
)
from provisioner.services.api.selectors import label_key_errors, label_value_errors
from provisioner.spec.durations import DURATION_SYNTAX, format_duration, parse_duration

MIB = 2**20
MIN_MEMORY_MIB = 512
MIN_SUBNET_PREFIX, MAX_SUBNET_PREFIX = 16, 28
SHORT_NAME_MAX = 20

_SHORT_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]*")
_PORT_RANGE = re.compile(r"([0-9]+)-([0-9]+)")


def describe(value: Any) -> str:
    """A YAML value as the user wrote it, for 'must be X; got Y' messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _string(value: Any, expected: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be {expected}; got {describe(value)}")
    return value


# --- names ------------------------------------------------------------------------------------------------------

def _short_name(value: str) -> str:
    if not 1 <= len(value) <= SHORT_NAME_MAX or not _SHORT_NAME.fullmatch(value):
        raise ValueError(f"must be 1 to {SHORT_NAME_MAX} characters of a-z, 0-9 and '-', start with a letter and "
                         f"not end with '-'; got {value!r}")
    return value


def _host_name(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError("must be a DNS label: 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a "
                         f"letter or digit; got {value!r}")
    return value


def _dns_domain(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or not all(len(label) <= 63 and _DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"must be a lowercase DNS domain such as cluster.local; got {value!r}")
    return value


def _user_name(value: str) -> str:
    if len(value) > 32 or not _USER_NAME.fullmatch(value):
        raise ValueError(f"must be a user name (a-z, 0-9, '_' and '-', at most 32 characters); got {value!r}")
    return value


def _unique_packages(names: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"lists {', '.join(map(repr, repeated))} more than once")
    return names


def _package_name(value: str) -> str:
    if not _PACKAGE_NAME.fullmatch(value):
        raise ValueError("must be a Debian package name (at least 2 characters of a-z, 0-9, '+', '-' and '.', "
                         f"starting with a letter or digit); got {value!r}")
    return value


# --- addresses --------------------------------------------------------------------------------------------------

def _cidr(value: Any) -> IPv4Network:
    text = _string(value, "an IPv4 network in CIDR notation such as 10.0.0.0/16")
    if "/" not in text:
        raise ValueError(f"must be an IPv4 network in CIDR notation such as 10.0.0.0/16; got {text!r}")
    try:
        return IPv4Network(text)
    except ValueError as error:
        if "has host bits set" in str(error):
            network = IPv4Network(text, strict=False)
            raise ValueError(f"{text} has host bits set; the network is {network}") from None
        raise ValueError(f"must be an IPv4 network in CIDR notation such as 10.0.0.0/16; got {text!r}") from None


def _subnet_prefix(network: IPv4Network) -> IPv4Network:
    if not MIN_SUBNET_PREFIX <= network.prefixlen <= MAX_SUBNET_PREFIX:
        raise ValueError(f"prefix must be between /{MIN_SUBNET_PREFIX} and /{MAX_SUBNET_PREFIX}; got "
                         f"/{network.prefixlen}")
    return network


def _address(value: Any) -> IPv4Address:
    text = _string(value, "an IPv4 address such as 192.0.2.10")
    try:
        return IPv4Address(text)
    except ipaddress.AddressValueError:
        raise ValueError(f"must be an IPv4 address such as 192.0.2.10; got {text!r}") from None


def _port_range(value: str) -> str:
    match = _PORT_RANGE.fullmatch(value)
    if not match or not 1 <= int(match[1]) <= int(match[2]) <= 65535:
        raise ValueError(f"must be a port range FIRST-LAST with 1 <= FIRST <= LAST <= 65535; got {value!r}")
    return value


def _mirror(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise ValueError(f"must be an http://, https:// or file:// URL of a Debian mirror; got {value!r}")
    return value


def _path(value: Any) -> Path:
    text = _string(value, "a file path")
    if not text:
        raise ValueError("must be a file path; got an empty string")
    return Path(text)


# --- quantities and durations -----------------------------------------------------------------------------------

def _memory_mib(value: Any) -> int:
    """Bytes of a Kubernetes quantity, in whole MiB (rounded down). Plain numbers are refused: ``2048`` would be
    bytes to Kubernetes but is megabytes to most readers."""
    text = _string(value, "a memory quantity such as 512Mi or 2Gi")
    try:
        amount = parse_quantity(text)
    except QuantityError:
        raise ValueError(f"must be a memory quantity such as 512Mi or 2Gi; got {text!r}") from None
    mib = math.floor(amount.value / MIB)
    if mib < MIN_MEMORY_MIB:
        raise ValueError(f"must be at least {MIN_MEMORY_MIB}Mi; got {text}")
    return mib


def format_memory(mib: int) -> str:
    """``2048`` → ``2Gi``, ``1536`` → ``1536Mi``: Kubernetes' canonical spelling, which _memory_mib reads back."""
    return format_quantity(Quantity(Fraction(mib * MIB), BINARY_SI))


def _duration(value: Any) -> timedelta:
    return parse_duration(_string(value, DURATION_SYNTAX))


def _ttl(duration: timedelta) -> timedelta:
    if not timedelta(minutes=1) <= duration <= timedelta(minutes=15):
        raise ValueError(f"must be between 1m and 15m; got {format_duration(duration)}")
    return duration


# --- labels -----------------------------------------------------------------------------------------------------

def _label_key(key: str) -> str:
    if problems := label_key_errors(key):
        raise ValueError(f"invalid key {key!r}: " + "; ".join(problems))
    return key


def _label_value(value: str) -> str:
    if problems := label_value_errors(value):
        raise ValueError(f"invalid value {value!r}: " + "; ".join(problems))
    return value


ShortName = Annotated[StrictStr, AfterValidator(_short_name)]
HostName = Annotated[StrictStr, AfterValidator(_host_name)]
DnsDomain = Annotated[StrictStr, AfterValidator(_dns_domain)]
UserName = Annotated[StrictStr, AfterValidator(_user_name)]
PackageName = Annotated[StrictStr, AfterValidator(_package_name)]
PackageNames = Annotated[tuple[PackageName, ...], AfterValidator(_unique_packages)]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
MirrorUrl = Annotated[StrictStr, AfterValidator(_mirror)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
PortRange = Annotated[StrictStr, AfterValidator(_port_range)]
Count = Annotated[StrictInt, Field(ge=0)]
Cpus = Annotated[StrictInt, Field(ge=1)]

Cidr = Annotated[IPv4Network, BeforeValidator(_cidr), PlainSerializer(str, when_used="json")]
Subnet = Annotated[Cidr, AfterValidator(_subnet_prefix)]
Address = Annotated[IPv4Address, BeforeValidator(_address), PlainSerializer(str, when_used="json")]
FilePath = Annotated[Path, BeforeValidator(_path), PlainSerializer(str, when_used="json")]

MemoryMiB = Annotated[int, BeforeValidator(_memory_mib), PlainSerializer(format_memory, when_used="json")]
Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, when_used="json")]
TokenTtl = Annotated[Duration, AfterValidator(_ttl)]

LabelKey = Annotated[StrictStr, AfterValidator(_label_key)]
LabelValue = Annotated[StrictStr, AfterValidator(_label_value)]
Labels = dict[LabelKey, LabelValue]
