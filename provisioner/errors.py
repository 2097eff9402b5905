"""One exception tree for the operator tool: every error a user can cause or meet derives from ProvisionError."""

from dataclasses import dataclass


class ProvisionError(Exception):
    """An error with a message meant for the user; the CLI prints it and exits non-zero without a traceback."""

    exit_code = 1


class PKIError(ProvisionError):
    """Certificates, keys, tokens or kubeconfigs that cannot be made, read or written."""


class ProcessError(ProvisionError):
    """A process this tool launched (a dev service, a machine) that cannot be inspected or stopped."""


class ProviderError(ProvisionError):
    """Machines that cannot be created, reached, inspected or deleted (nspawn machines, VMs, SSH hosts)."""


class DevClusterError(ProvisionError):
    """The local development control plane (`provision dev …`) cannot be started, stopped or inspected."""


class RunnerError(ProvisionError):
    """A playbook that could not run at all (missing playbook, unreadable inventory, ansible-runner failing);
    a playbook that ran and failed on hosts is a PlaybookResult, not this."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a cluster spec: where (file, line, field path in the file's spelling) and what."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(ProvisionError):
    """A cluster spec that cannot be used; carries every problem found, not only the first."""

    exit_code = 2  # bad input, like a usage error

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
