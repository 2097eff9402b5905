"""The one library through which scheduler, controllers, kubelet, proxy and DNS talk to the apiserver: a REST
client, informers with read-only caches, work queues, the reconcile-loop harness, events and leader election."""

from provisioner.services.client.config import ClientConfig, ConfigError
from provisioner.services.client.events import EventRecorder
from provisioner.services.client.informer import (
    Handler,
    Informer,
    InformerFactory,
    Store,
    object_key,
    split_key,
)
from provisioner.services.client.leaderelection import LeaderElector, LeaseTiming
from provisioner.services.client.loop import ReconcileLoop, run_all
from provisioner.services.client.rest import ApiClient, RetryPolicy, WatchEvent, resource_path
from provisioner.services.client.workqueue import ExponentialBackoff, QueueShutDown, WorkQueue

__all__ = [
    "ApiClient",
    "ClientConfig",
    "ConfigError",
    "EventRecorder",
    "ExponentialBackoff",
    "Handler",
    "Informer",
    "InformerFactory",
    "LeaderElector",
    "LeaseTiming",
    "QueueShutDown",
    "ReconcileLoop",
    "RetryPolicy",
    "Store",
    "WatchEvent",
    "WorkQueue",
    "object_key",
    "resource_path",
    "run_all",
    "split_key",
]
