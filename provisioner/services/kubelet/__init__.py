"""The kubelet (``provision-kubelet``): joins its machine to the cluster and keeps it reported.

- bootstrap.py   TLS bootstrap: a client certificate through a CertificateSigningRequest, made with a bootstrap token
- sysinfo.py     what the machine is: CPUs, memory, disk, ids, kernel, OS, the node's IP
- node_status.py the Node it registers and the status it posts every --node-status-update-frequency
- lease.py       the Lease in kube-node-lease it renews (node health is judged by it)
- runtime/       OCI runtime specs and the crun/runc adapter with its per-container shim (exit codes)
- network/       pod sandboxes: IPAM on the node's podCIDR, cbr0, a netns + veth per pod, host-gw routes
- main.py        flags (options.py), wiring, signals, /healthz

Pods are not run yet: a pod sync loop (images from provisioner.services.oci, runtime/, network/) joins these
beside the status and Lease loops.
"""
