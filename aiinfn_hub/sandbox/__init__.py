"""A one-machine Kubernetes with Kueue admission and interLink-style remote sites.

One process speaks the Kubernetes HTTP API (so ``kubernetes_asyncio``, KubeSpawner and
``kubectl`` work against it) and runs the controllers that make its objects live: a Job
controller, Kueue-style admission, a scheduler, garbage collection, and kubelets that run
each pod's command as a local process. ``Sandbox`` runs it in the current event loop;
``SandboxProcess`` runs it in a child process; ``aiinfn-hub sandbox up`` from the shell.
"""

from .faults import FAULTS
from .process import SandboxProcess
from .sandbox import Sandbox
from .topology import Topology, load_topology

__all__ = ["FAULTS", "Sandbox", "SandboxProcess", "Topology", "load_topology"]
