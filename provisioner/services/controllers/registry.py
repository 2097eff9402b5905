"""Every controller the controller-manager knows, by the name its ``--controllers`` flag uses.

Entries name the class as ``module:Class`` and are imported only when enabled, so one controller's module never
loads another's.
"""

from __future__ import annotations

import importlib

from provisioner.services.controllers.base import Controller

CONTROLLERS: dict[str, str] = {
    "deployment": "provisioner.services.controllers.deployment:DeploymentController",
    "replicaset": "provisioner.services.controllers.replicaset:ReplicaSetController",
    "replicationcontroller": "provisioner.services.controllers.replicaset:ReplicationControllerController",
    "job": "provisioner.services.controllers.job:JobController",
    "daemonset": "provisioner.services.controllers.daemonset:DaemonSetController",
    "node-lifecycle": "provisioner.services.controllers.nodelifecycle:NodeLifecycleController",
    "node-ipam": "provisioner.services.controllers.nodeipam:NodeIpamController",
    "endpoints": "provisioner.services.controllers.endpoints:EndpointsController",
    "endpointslice": "provisioner.services.controllers.endpointslice:EndpointSliceController",
    "serviceaccount": "provisioner.services.controllers.serviceaccount:ServiceAccountController",
    "namespace": "provisioner.services.controllers.namespace:NamespaceController",
    "garbage-collector": "provisioner.services.controllers.garbagecollector:GarbageCollector",
    "pod-gc": "provisioner.services.controllers.podgc:PodGarbageCollector",
    "csr-approver": "provisioner.services.controllers.csrapproval:CSRApprovingController",
    "csr-signer": "provisioner.services.controllers.csrsigning:CSRSigningController",
}


def load(name: str) -> type[Controller]:
    module_name, _, class_name = CONTROLLERS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
