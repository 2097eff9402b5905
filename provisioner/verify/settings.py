"""The environment variables through which hosts.py tells the host checks (host_checks.py) what to expect."""

INVENTORY = "PROVISION_VERIFY_INVENTORY"  # the workspace's inventory/hosts.yml
RELEASE = "PROVISION_VERIFY_RELEASE"  # the bundle key /opt/provision/current must point at
APISERVER_PORT = "PROVISION_VERIFY_APISERVER_PORT"
SERVER_VERSION = "PROVISION_VERIFY_SERVER_VERSION"  # the apiserver's gitVersion (`kubectl version`)
STORE = "PROVISION_VERIFY_STORE"  # spec.controlPlane.store: sqlite or etcd
KUBERNETES_SERVICE_IP = "PROVISION_VERIFY_KUBERNETES_SERVICE_IP"  # the `kubernetes` Service's ClusterIP
