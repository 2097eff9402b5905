"""Key ranges: a prefix becomes the half-open range ``[prefix, prefix_end(prefix))``.

Range queries instead of ``LIKE`` because keys may contain ``%`` and ``_``. Python compares strings by code point,
and SQLite compares TEXT (BINARY collation) by UTF-8 bytes; both orders agree, so one bound serves both.
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)  # not encodable in UTF-8, so never part of a stored key


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``; None when there is none."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last == _MAX_CODE_POINT:
            continue  # nothing follows U+10FFFF: carry into the previous character
        following = last + 1
        if following in _SURROGATES:
            following = _SURROGATES.stop
        return "".join(chars) + chr(following)
    return None


def in_range(key: str, prefix: str, end: str | None) -> bool:
    return key >= prefix and (end is None or key < end)
