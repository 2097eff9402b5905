"""The one module that runs iptables: loads rendered rules with ``iptables-restore --noflush``.

The text declares every chain of ours (``:KUBE-… - [0:0]``), which creates or flushes it; built-in chains are
never flushed. Per-service chains a sync no longer declares are deleted in the same restore (declared, then
``-X``), as kube-proxy does, so a removed endpoint's KUBE-SEP chain disappears atomically with its last jump.
The jump rules from built-in chains into ours are checked with ``iptables -C`` and inserted first when
missing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from provisioner.services.proxy.rules import JUMP_RULES, PER_SERVICE_CHAIN_PREFIXES, JumpRule

TIMEOUT = 60.0  # seconds; a restore of thousands of rules takes well under one


class IptablesError(Exception):
    """An iptables command failed; the message holds the command and its output."""


class IptablesRestore:
    def __init__(self, netns: str | None = None, jump_rules: Sequence[JumpRule] = JUMP_RULES) -> None:
        self.netns = netns
        self.jump_rules = tuple(jump_rules)

    def apply(self, text: str) -> None:
        self._run(["iptables-restore", "--noflush", "--wait"], stdin=self._with_stale_chains_deleted(text))
        self.ensure_jump_rules()

    def ensure_jump_rules(self) -> None:
        for rule in self.jump_rules:
            table = ["iptables", "--wait", "-t", rule.table]
            if self._run([*table, "-C", rule.chain, *rule.args()], check=False).returncode != 0:
                self._run([*table, "-I", rule.chain, "1", *rule.args()])

    def save(self, table: str) -> str:
        return self._run(["iptables-save", "-t", table]).stdout

    def _with_stale_chains_deleted(self, text: str) -> str:
        out: list[str] = []
        declared: set[str] = set()
        table = ""
        for line in text.splitlines():
            if line.startswith("*"):
                table, declared = line[1:], set()
            elif line.startswith(":"):
                declared.add(line[1:].split()[0])
            elif line == "COMMIT":
                stale = sorted(set(self._per_service_chains(table)) - declared)
                out += [f":{chain} - [0:0]" for chain in stale] + [f"-X {chain}" for chain in stale]
            out.append(line)
        return "\n".join(out) + "\n"

    def _per_service_chains(self, table: str) -> list[str]:
        return [line[1:].split()[0] for line in self.save(table).splitlines()
                if line.startswith(":") and line[1:].startswith(PER_SERVICE_CHAIN_PREFIXES)]

    def _run(self, command: list[str], *, stdin: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]
        try:
            result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise IptablesError(f"{' '.join(command)}: {err}") from None
        if check and result.returncode != 0:
            raise IptablesError(f"{' '.join(command)} exited {result.returncode}: "
                                f"{(result.stderr or result.stdout).strip()}")
        return result
