"""Kueue's batch/v1 Job integration.

Imitates Kueue's job webhook and ``jobframework`` reconciler for ``batch/v1`` Jobs
(pkg/controller/jobframework, pkg/controller/jobs/job): a Job labelled
``kueue.x-k8s.io/queue-name`` starts suspended and gets a Workload (``job-<name>-<hash>``);
once the workload is admitted the Job is unsuspended with its flavors' node labels and
tolerations; when it is evicted the Job is suspended again with its original scheduling
directives and, once its pods are gone, the quota released; the workload's ``PodsReady`` and
``Finished`` conditions follow the Job.
"""

from __future__ import annotations

import hashlib

from ...objects import (
    Obj,
    clone,
    condition_true,
    get_condition,
    owner_reference,
    set_condition,
)
from ...registry import ResourceType
from ...selectors import Requirement
from .eviction import Eviction
from .workload import (
    COMPONENT,
    JOB_UID_LABEL,
    PODSET_LABEL,
    QUEUE_LABEL,
    WORKLOAD_ANNOTATION,
    KueueApi,
)


def suspend_on_create(rt: ResourceType, obj: Obj) -> None:
    """Kueue's Job webhook: a Job for a LocalQueue starts suspended."""
    labels = obj["metadata"].get("labels") or {}
    if rt.plural == "jobs" and rt.group == "batch" and labels.get(QUEUE_LABEL):
        obj.setdefault("spec", {})["suspend"] = True


def workload_name(job: Obj) -> str:
    """``job-<name>-<5 hex>``, the hash over the owner's kind, group, name and uid."""
    meta = job["metadata"]
    digest = hashlib.sha1(
        "\n".join(("Job", "batch", meta["name"], meta["uid"])).encode()
    ).hexdigest()
    return f"job-{meta['name']}"[:247] + f"-{digest[:5]}"


class JobReconciler:
    """The job side of Kueue: a Job's workload created, the Job started and stopped as its
    workload is admitted and evicted."""

    def __init__(self, kube: KueueApi, eviction: Eviction) -> None:
        self.kube = kube
        self.api = kube.api
        self.eviction = eviction

    def owns_workload(self, job: Obj) -> bool:
        """Whether a Job has a workload (it is Kueue's even once its label is gone)."""
        return any(
            rt is self.kube.workloads
            for rt, _ in self.kube.store.dependents(job["metadata"]["uid"])
        )

    def cleanup(self, ns: str, uid: str) -> None:
        """A Job deleted: the workloads labelled with its uid are deleted too."""
        for wl in self.api.select(
            self.kube.workloads, ns, (Requirement(JOB_UID_LABEL, "In", (uid,)),)
        ):
            self.api.delete(
                self.kube.workloads, ns, wl["metadata"]["name"], {"propagationPolicy": "Background"}
            )

    def reconcile(self, ns: str, name: str) -> float | None:
        """Converge one Job with its workload: create the workload, follow its queue name,
        finish it with the Job, start or stop the Job as the workload is admitted or not."""
        job = self.kube.store.get(self.kube.jobs, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        queue = (job["metadata"].get("labels") or {}).get(QUEUE_LABEL)
        wl = self.kube.workload_of(job)
        finished = condition_true(job, "Complete") or condition_true(job, "Failed")
        if wl is None:
            if queue and not finished:
                self._create_workload(job, queue)
            return None
        wl_name = wl["metadata"]["name"]
        if finished:
            if not condition_true(wl, "Finished"):
                failed = get_condition(job, "Failed")
                reason, message = (
                    ("Failed", failed.get("message", "Job failed"))
                    if failed and failed.get("status") == "True"
                    else ("Succeeded", "Job finished successfully")
                )
                self.kube.set_status(
                    wl, lambda s: set_condition(s, "Finished", True, reason, message)
                )
                self.api.event(
                    job,
                    "FinishedWorkload",
                    f"Workload '{ns}/{wl_name}' is declared finished",
                    component=COMPONENT,
                )
            return None
        suspended = bool((job.get("spec") or {}).get("suspend"))
        reserved = condition_true(wl, "QuotaReserved")
        if (
            queue
            and queue != (wl.get("spec") or {}).get("queueName")
            and suspended
            and not reserved
        ):
            self.api.modify(
                self.kube.workloads, ns, wl_name, lambda w: w["spec"].update(queueName=queue)
            )
            self.api.event(
                job,
                "UpdatedWorkload",
                f"Updated queue name of workload {ns}/{wl_name} to {queue}",
                component=COMPONENT,
            )
            return None
        if condition_true(wl, "Evicted") and condition_true(wl, "QuotaReserved"):
            self._finish_eviction(job, wl)
            return None
        admitted = condition_true(wl, "Admitted")
        if admitted and suspended:
            self._start(job, wl)
        elif not admitted and not suspended:
            self._stop(job, wl)
        if admitted and not suspended:
            return self._pods_ready(job, wl)
        return None

    def _create_workload(self, job: Obj, queue: str) -> None:
        """The Job's workload: one pod set of its parallelism (at most its completions)."""
        spec = job.get("spec") or {}
        count = int(spec.get("parallelism", 1))
        if spec.get("completions") is not None:
            count = min(count, int(spec["completions"]))
        template = clone(spec.get("template") or {})
        wl = {
            "apiVersion": self.kube.workloads.api_version(),
            "kind": "Workload",
            "metadata": {
                "name": workload_name(job),
                "labels": {JOB_UID_LABEL: job["metadata"]["uid"]},
                "ownerReferences": [owner_reference(job)],
            },
            "spec": {
                "queueName": queue,
                "podSets": [{"name": "main", "count": count, "template": template}],
                "priority": 0,
                "active": True,
            },
        }
        created = self.api.create(self.kube.workloads, job["metadata"]["namespace"], wl)
        message = f"Created Workload: {job['metadata']['namespace']}/{created['metadata']['name']}"
        self.api.event(job, "CreatedWorkload", message, component=COMPONENT)

    def _start(self, job: Obj, wl: Obj) -> None:
        """Unsuspend with the flavors' node labels and tolerations, as Kueue does."""
        admission = (wl.get("status") or {}).get("admission") or {}
        flavor_names = {
            f
            for psa in admission.get("podSetAssignments") or []
            for f in (psa.get("flavors") or {}).values()
        }
        node_labels: dict[str, str] = {}
        tolerations: list[Obj] = []
        for flavor_name in sorted(flavor_names):
            flavor = self.kube.store.get(self.kube.flavors, "", flavor_name) or {}
            node_labels.update((flavor.get("spec") or {}).get("nodeLabels") or {})
            tolerations += (flavor.get("spec") or {}).get("tolerations") or []
        cq = admission.get("clusterQueue", "")
        lq = (wl.get("spec") or {}).get("queueName", "")

        def start(j: Obj) -> None:
            template = j["spec"].setdefault("template", {})
            tmeta = template.setdefault("metadata", {})
            tmeta.setdefault("labels", {}).update(
                {
                    PODSET_LABEL: "main",
                    "kueue.x-k8s.io/cluster-queue-name": cq,
                    "kueue.x-k8s.io/local-queue-name": lq,
                }
            )
            tmeta.setdefault("annotations", {})[WORKLOAD_ANNOTATION] = wl["metadata"]["name"]
            pod_spec = template.setdefault("spec", {})
            if node_labels:
                pod_spec.setdefault("nodeSelector", {}).update(node_labels)
            existing = pod_spec.setdefault("tolerations", [])
            existing += [t for t in tolerations if t not in existing]
            if not existing:
                pod_spec.pop("tolerations")
            j["spec"]["suspend"] = False

        self.api.modify(
            self.kube.jobs, job["metadata"]["namespace"], job["metadata"]["name"], start
        )
        self.api.event(job, "Started", f"Admitted by clusterQueue {cq}", component=COMPONENT)

    def _stop(self, job: Obj, wl: Obj) -> None:
        """Suspend again and restore the original scheduling directives (eviction)."""
        original = ((wl.get("spec") or {}).get("podSets") or [{}])[0].get("template") or {}

        def stop(j: Obj) -> None:
            template = j["spec"].setdefault("template", {})
            pod_spec = template.setdefault("spec", {})
            for field in ("nodeSelector", "tolerations"):
                if field in (original.get("spec") or {}):
                    pod_spec[field] = clone(original["spec"][field])
                else:
                    pod_spec.pop(field, None)
            tmeta = template.setdefault("metadata", {})
            for field in ("labels", "annotations"):
                if field in (original.get("metadata") or {}):
                    tmeta[field] = clone(original["metadata"][field])
                else:
                    tmeta.pop(field, None)
            j["spec"]["suspend"] = True

        self.api.modify(self.kube.jobs, job["metadata"]["namespace"], job["metadata"]["name"], stop)
        evicted = get_condition(wl, "Evicted")
        message = (
            evicted.get("message") or ""
            if evicted and evicted.get("status") == "True"
            else "Not admitted by cluster queue"
        )
        self.api.event(job, "Stopped", message, component=COMPONENT)

    def _pods_ready(self, job: Obj, wl: Obj) -> float | None:
        """The workload's ``PodsReady`` condition from the Job's ready and succeeded pods;
        while they are not all ready, ``waitForPodsReady``'s timeout (:mod:`.eviction`)."""
        status = job.get("status") or {}
        count = ((wl.get("spec") or {}).get("podSets") or [{}])[0].get("count", 1)
        ready = int(status.get("ready") or 0) + int(status.get("succeeded") or 0) >= int(count)
        if ready:
            self.kube.set_status(
                wl,
                lambda s: set_condition(
                    s,
                    "PodsReady",
                    True,
                    "Started",
                    "All pods reached readiness and the workload is running",
                ),
            )
            return None
        self.kube.set_status(
            wl,
            lambda s: set_condition(
                s, "PodsReady", False, "WaitForStart", "Not all pods are ready or succeeded"
            ),
        )
        return self.eviction.pods_ready_timeout(wl)

    def _finish_eviction(self, job: Obj, wl: Obj) -> None:
        """Stop the evicted workload's Job; once no pod of it is left, release the quota."""
        if not (job.get("spec") or {}).get("suspend"):
            self._stop(job, wl)
            return
        status = job.get("status") or {}
        if int(status.get("active") or 0) + int(status.get("terminating") or 0) > 0:
            return  # woken again when the Job controller counts its pods gone
        self.eviction.release(wl)
