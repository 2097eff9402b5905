"""The scheduler: decides which node each pending pod runs on, like kube-scheduler.

Layout:
  framework.py   statuses, extension points (PreFilter, Filter, PostFilter, PreScore, Score), cycle state, profiles
  podinfo.py     a pod parsed once (requests, ports, tolerations, affinity terms)
  nodeinfo.py    a node and the aggregate of its pods
  cache.py       nodes + bound and assumed pods, label and affinity-term indexes
  queue.py       activeQ / backoffQ / unschedulable pods, queueing hints
  algorithm.py   one cycle: filter (percentageOfNodesToScore), score, select; FitError messages; nominations
  plugins/       the in-tree plugins and the default profile
  scheduler.py   informers → cache/queue → decide → assume → asynchronous binding; events and conditions
  main.py        ``provision-scheduler``: flags, leader election, signals
"""

from provisioner.services.scheduler.algorithm import FitError, SchedulingAlgorithm
from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import Profile, Status, Weighted
from provisioner.services.scheduler.plugins import DEFAULT_SCHEDULER_NAME, default_profile
from provisioner.services.scheduler.queue import SchedulingQueue
from provisioner.services.scheduler.scheduler import Scheduler, SchedulerOptions

__all__ = [
    "DEFAULT_SCHEDULER_NAME",
    "FitError",
    "Profile",
    "Scheduler",
    "SchedulerCache",
    "SchedulerOptions",
    "SchedulingAlgorithm",
    "SchedulingQueue",
    "Status",
    "Weighted",
    "default_profile",
]
