"""Adapters of the programs the kubelet runs; the only modules that call them (design.md §5).

- protocol.py  the Runtime protocol, container states, errors, stop_container (SIGTERM, grace, SIGKILL)
- oci_spec.py  a container's OCI runtime spec (config.json), built purely from a ContainerConfig
- crun.py      CrunRuntime over crun (runc fallback); the runtime version the Node reports
- shim.py      the per-container process that waits for the container and records its exit code
- fake.py      FakeRuntime for unit tests
"""
