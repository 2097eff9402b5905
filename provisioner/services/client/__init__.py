"""The one library through which scheduler, controllers, kubelet, proxy and DNS talk to the apiserver: a REST
client, informers with read-only caches, work queues, the reconcile-loop harness, events, leader election, and
the plain-HTTP /healthz those services serve."""

from provisioner.services.client.config import ClientConfig, ConfigError
from provisioner.services.client.events import EventRecorder
from provisioner.services.client.healthz import (
    HealthzBindError,
    HealthzServer,
    parse_bind_address,
    serve_healthz,
)
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
from provisioner.services.client.rest import (
    ApiClient,
    RetryPolicy,
    WatchEvent,
    resource_path,
    until_available,
)
from provisioner.services.client.workqueue import ExponentialBackoff, QueueShutDown, WorkQueue

__all__ = [
    "ApiClient",
    "ClientConfig",
    "ConfigError",
    "EventRecorder",
    "ExponentialBackoff",
    "Handler",
    "HealthzBindError",
    "HealthzServer",
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
    "parse_bind_address",
    "resource_path",
    "run_all",
    "serve_healthz",
    "split_key",
    "until_available",
]
