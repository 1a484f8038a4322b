"""Kueue-style admission of batch/v1 Jobs, under Kueue's names, in Kueue's parts.

A Job labelled ``kueue.x-k8s.io/queue-name`` is suspended on create (the webhook) and gets a
Workload; an admission cycle assigns each pending Workload the first flavor of its
ClusterQueue that matches the pods' node selection, tolerates the flavor's taints and has
quota (borrowing within the cohort), then the Job is unsuspended with the flavor's node labels
and tolerations. Not modelled: preemption by priority (a fault can preempt), fair sharing,
admission checks, topology-aware scheduling, partial admission.

- :mod:`.manager`: the controller, its work queue and what wakes each part;
- :mod:`.jobframework`: the batch/v1 Job integration (suspend, Workload, start and stop);
- :mod:`.scheduler`: the admission cycle (quota reserved, or why not);
- :mod:`.flavorassigner`: which flavor fits (node labels, taints, quota, cohort borrowing);
- :mod:`.eviction`: eviction, requeue with backoff, deactivation, the PodsReady timeout;
- :mod:`.queuestatus`: ClusterQueue and LocalQueue statuses;
- :mod:`.workload`: Kueue's labels, the objects' types, a workload's shared reads and writes;
- :mod:`.words`: the reasons and messages a Kueue release writes.
"""

from .jobframework import suspend_on_create, workload_name
from .manager import KueueController
from .workload import CYCLE, QUEUE_LABEL

__all__ = ["CYCLE", "QUEUE_LABEL", "KueueController", "suspend_on_create", "workload_name"]
