"""The cluster spec: ``cluster.yaml`` → a checked, fully defaulted, frozen Cluster.

``load(path)`` / ``parse(text)`` read and check a spec, raising SpecError with every problem found (file, line,
field path, message); ``dump(cluster)`` writes the defaulted spec back in the file format. The format is
documented in docs/cluster-spec.md.
"""

from provisioner.errors import Problem, SpecError
from provisioner.spec.load import dump, load, parse
from provisioner.spec.model import (
    API_VERSION,
    BootstrapTokenSpec,
    Cluster,
    ControlPlaneSpec,
    Host,
    Image,
    Machine,
    MachinesProvider,
    NetworkSpec,
    NodeGroup,
    PkiSpec,
    ProviderSpec,
    SshProvider,
    Taint,
    VagrantProvider,
)

__all__ = [
    "API_VERSION",
    "BootstrapTokenSpec",
    "Cluster",
    "ControlPlaneSpec",
    "Host",
    "Image",
    "Machine",
    "MachinesProvider",
    "NetworkSpec",
    "NodeGroup",
    "PkiSpec",
    "Problem",
    "ProviderSpec",
    "SpecError",
    "SshProvider",
    "Taint",
    "VagrantProvider",
    "dump",
    "load",
    "parse",
]
