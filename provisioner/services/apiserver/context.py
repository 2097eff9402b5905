"""Who is asking and how: the authenticated user and the options of one write."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def in_group(self, group: str) -> bool:
        return group in self.groups


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


@dataclass
class WriteOptions:
    user: User
    field_manager: str
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore; Kubernetes' default when the client says nothing
    warnings: list[str] = field(default_factory=list)
