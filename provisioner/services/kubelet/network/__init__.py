"""The pod network of a node (design.md §2): bridge ``cbr0`` holding the podCIDR's gateway, one netns per pod with
a veth into the bridge, host-gw routes to the other nodes' podCIDRs.

- protocol.py  the NodeNetwork protocol, Sandbox, names, errors, the host-gw route diff
- ipam.py      HostLocalIpam: pod IPs from the podCIDR, one file per address (like CNI host-local)
- iproute.py   IpRoute: NodeNetwork through `ip`, `bridge` and `sysctl` — the only module that runs them
- fake.py      FakeNodeNetwork for unit tests
"""
