"""An in-memory stand-in for IptablesRestore, for tests of the proxier: it keeps every text it was given."""

from __future__ import annotations


class FakeIptables:
    def __init__(self) -> None:
        self.applied: list[str] = []
        self.failure: Exception | None = None  # raised by the next apply, then cleared

    def apply(self, text: str) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.applied.append(text)

    @property
    def current(self) -> str:
        """The last text applied ("" before the first)."""
        return self.applied[-1] if self.applied else ""
