"""Kubelets: each node's pods run as local processes, on a loopback address of their own.

The kubelet in the parts a real one has:

- :mod:`.node`: the kubelet of the sandbox's nodes, routing each pod to a worker; pod addresses;
- :mod:`.podworker`: a pod from its start to its end, its status written as it goes;
- :mod:`.containers`: a container's process started, or why it could not start;
- :mod:`.hooks`: a container's ``postStart`` hook;
- :mod:`.probes`: readiness probes;
- :mod:`.virtualnode`: a pod on an interLink virtual node (the remote queue, ``JobID``,
  ``ProviderFailed``, interLink's exit reasons and addresses).
"""

from .containers import ContainerRun, ProcessContext
from .node import AddressPool, Kubelet
from .podworker import PodWorker
from .virtualnode import SiteFaults

__all__ = ["AddressPool", "ContainerRun", "Kubelet", "PodWorker", "ProcessContext", "SiteFaults"]
