"""The batch/v1 Job controller: pods from the template, completions, indexes, limits, suspend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

from ..api import Api
from ..objects import (
    Obj,
    clone,
    condition_true,
    controller_uid,
    get_condition,
    is_terminal_pod,
    now,
    owner_reference,
    parse_time,
    set_condition,
    timestamp,
)
from ..store import Event
from .base import Controller

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
UID_LABEL = "batch.kubernetes.io/controller-uid"
COMPONENT = "job-controller"


def _index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    return int(value) if value is not None and str(value).isdigit() else None


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as ranges, like ``status.completedIndexes``: "0-2,5"."""
    out: list[str] = []
    ordered = sorted(set(indexes))
    start = 0
    for n, i in enumerate(ordered):
        if n == 0 or i != ordered[n - 1] + 1:
            start = i
        if n == len(ordered) - 1 or ordered[n + 1] != i + 1:
            out.append(str(start) if start == i else f"{start}-{i}")
    return ",".join(out)


#: (namespace, Job name)
JobControllerKey = tuple[str, str]


class JobController(Controller[JobControllerKey]):
    name = COMPONENT

    def __init__(self, api: Api, backoff_seconds: float = 0.0) -> None:
        super().__init__(api)
        self.jobs = self.registry.get("jobs", "batch")
        self.pods = self.registry.get("pods")
        self.backoff_seconds = backoff_seconds
        self._counted: dict[str, dict[str, str]] = {}  # job uid -> pod uid -> final phase
        #: pods this controller deleted (suspended, finished, too many): not failures
        self._deleted_by_me: set[str] = set()
        self._failures: dict[str, tuple[int, float]] = {}  # job uid -> (failures, since)

    def keys(self, event: Event) -> Iterable[JobControllerKey]:
        meta = event.obj["metadata"]
        if event.rt is self.jobs:
            yield (meta["namespace"], meta["name"])
        elif event.rt is self.pods:
            job_name = (meta.get("labels") or {}).get("batch.kubernetes.io/job-name")
            job_uid = controller_uid(event.obj)
            if job_name and job_uid:
                if event.type == "DELETED":
                    self._count_gone(job_uid, event.obj)
                yield (meta["namespace"], job_name)

    def initial_keys(self) -> Iterable[JobControllerKey]:
        return [
            (j["metadata"]["namespace"], j["metadata"]["name"]) for j in self.store.list(self.jobs)
        ]

    async def reconcile(self, key: JobControllerKey) -> float | None:
        namespace, name = key
        job = self.store.get(self.jobs, namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        uid = job["metadata"]["uid"]
        spec = job.get("spec") or {}
        pods = self._pods_of(job)
        counted = self._counted.setdefault(uid, {})
        for pod in pods:
            self._count(counted, pod)
        active = [
            p for p in pods if not is_terminal_pod(p) and not p["metadata"].get("deletionTimestamp")
        ]
        terminating = [
            p for p in pods if not is_terminal_pod(p) and p["metadata"].get("deletionTimestamp")
        ]
        succeeded_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
        restarts = (
            sum(
                int(cs.get("restartCount") or 0)
                for p in active
                for cs in (p.get("status") or {}).get("containerStatuses") or []
            )
            if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
            else 0
        )
        succeeded = sum(1 for phase in counted.values() if phase == "Succeeded")
        failed = sum(1 for phase in counted.values() if phase == "Failed") + restarts
        status = clone(job.get("status") or {})
        finished = condition_true(job, "Complete") or condition_true(job, "Failed")
        requeue: float | None = None
        indexed = spec.get("completionMode") == "Indexed"
        completed_indexes = {i for p in succeeded_pods if (i := _index(p)) is not None}

        if finished:
            self._delete_pods(job, active)
        elif spec.get("suspend"):
            self._delete_pods(job, active)
            if set_condition(
                status, "Suspended", True, "JobSuspended", "Job suspended", probe_times=True
            ):
                self.api.event(job, "Suspended", "Job suspended", component=COMPONENT)
            status.pop("startTime", None)
        else:
            if get_condition(status.get("conditions") or [], "Suspended") and condition_true(
                job, "Suspended"
            ):
                set_condition(
                    status, "Suspended", False, "JobResumed", "Job resumed", probe_times=True
                )
                self.api.event(job, "Resumed", "Job resumed", component=COMPONENT)
            status.setdefault("startTime", timestamp())
            failure = self._failure(spec, status, failed)
            if failure:
                reason, message = failure
                self._delete_pods(job, active)
                active = []
                set_condition(status, "FailureTarget", True, reason, message, probe_times=True)
                set_condition(status, "Failed", True, reason, message, probe_times=True)
                self.api.event(job, reason, message, type="Warning", component=COMPONENT)
            elif self._complete(spec, succeeded, completed_indexes, active):
                message = "Reached expected number of succeeded pods"
                set_condition(
                    status,
                    "SuccessCriteriaMet",
                    True,
                    "CompletionsReached",
                    message,
                    probe_times=True,
                )
                set_condition(
                    status, "Complete", True, "CompletionsReached", message, probe_times=True
                )
                status["completionTime"] = timestamp()
                self.api.event(job, "Completed", "Job completed", component=COMPONENT)
            else:
                delay = self._backoff_left(uid, failed)
                if delay > 0:
                    requeue = delay
                else:
                    active += self._create_pods(job, active, succeeded, completed_indexes, indexed)
                requeue = self._deadline_left(spec, status, requeue)
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if condition_true(p, "Ready"))
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["terminating"] = len(terminating)
        status["uncountedTerminatedPods"] = {}
        if indexed:
            status["completedIndexes"] = format_indexes(completed_indexes)
        for field in ("succeeded", "failed", "active", "terminating"):
            if not status[field]:
                status.pop(field)

        def write(obj: Obj) -> None:
            obj["status"] = status

        self.api.modify(self.jobs, namespace, name, write)
        return requeue

    def _stopped_by_others(self, pod: Obj, *, gone: bool = False) -> bool:
        """Whether a pod not ended is being deleted (or is ``gone``) by someone else than this
        controller (an eviction, the taint manager, a user): a failure, as the real controller
        counts a terminating pod of ``restartPolicy: Never``."""
        meta = pod["metadata"]
        never = (pod.get("spec") or {}).get("restartPolicy", "Always") == "Never"
        deleting = gone or bool(meta.get("deletionTimestamp"))
        return deleting and never and meta["uid"] not in self._deleted_by_me

    def _count_gone(self, job_uid: str, pod: Obj) -> None:
        """A pod deleted before this controller counted it: the real controller's
        ``job-tracking`` finalizer keeps such a pod until it is counted; here its last state
        is counted as it goes."""
        self._count(self._counted.setdefault(job_uid, {}), pod, gone=True)
        self._deleted_by_me.discard(pod["metadata"]["uid"])

    def _count(self, counted: dict[str, str], pod: Obj, *, gone: bool = False) -> None:
        """Count the pod's end once: its final phase, or Failed if someone else stopped it."""
        if is_terminal_pod(pod):
            counted.setdefault(pod["metadata"]["uid"], pod["status"]["phase"])
        elif self._stopped_by_others(pod, gone=gone):
            counted.setdefault(pod["metadata"]["uid"], "Failed")

    def _pods_of(self, job: Obj) -> list[Obj]:
        """The pods the Job controls and labels as its own, sorted by name; found through the
        store's index of owners, not by a label scan of every pod in the namespace."""
        meta = job["metadata"]
        uid = meta["uid"]
        return sorted(
            (
                pod
                for rt, pod in self.store.dependents(uid)
                if rt is self.pods
                and pod["metadata"].get("namespace") == meta["namespace"]
                and (pod["metadata"].get("labels") or {}).get(UID_LABEL) == uid
                and controller_uid(pod) == uid
            ),
            key=lambda pod: pod["metadata"]["name"],
        )

    def _failure(self, spec: Obj, status: Obj, failed: int) -> tuple[str, str] | None:
        if failed > int(spec.get("backoffLimit", 6)):
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is not None and started and now() >= started + timedelta(seconds=int(deadline)):
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        return None

    def _deadline_left(self, spec: Obj, status: Obj, requeue: float | None) -> float | None:
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is None or started is None:
            return requeue
        left = (started + timedelta(seconds=int(deadline)) - now()).total_seconds() + 0.05
        return max(left, 0.05) if requeue is None else min(requeue, max(left, 0.05))

    def _complete(self, spec: Obj, succeeded: int, indexes: set[int], active: list[Obj]) -> bool:
        completions = spec.get("completions")
        if spec.get("completionMode") == "Indexed":
            return indexes >= set(range(int(completions or 0)))
        if completions is None:
            return succeeded > 0 and not active
        return succeeded >= int(completions)

    def _backoff_left(self, uid: str, failed: int) -> float:
        """Seconds to wait before replacing failed pods: base x 2^(failures-1) since the last."""
        if not self.backoff_seconds or not failed:
            return 0.0
        moment = asyncio.get_running_loop().time()
        seen, since = self._failures.get(uid, (0, moment))
        if failed > seen:
            seen, since = failed, moment
            self._failures[uid] = (seen, since)
        return max(since + self.backoff_seconds * 2 ** (failed - 1) - moment, 0.0)

    def _create_pods(
        self, job: Obj, active: list[Obj], succeeded: int, done: set[int], indexed: bool
    ) -> list[Obj]:
        spec = job["spec"]
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        created = []
        if indexed:
            busy = {_index(p) for p in active}
            todo = [i for i in range(int(completions)) if i not in done and i not in busy]
            for index in todo[: max(parallelism - len(active), 0)]:
                created.append(self._create_pod(job, index))
            return created
        if completions is None:
            want = parallelism if succeeded == 0 else 0
        else:
            want = max(min(parallelism, int(completions) - succeeded), 0)
        for _ in range(want - len(active)):
            created.append(self._create_pod(job, None))
        if len(active) > want:
            self._delete_pods(job, active[want:])
        return created

    def _create_pod(self, job: Obj, index: int | None) -> Obj:
        template = clone(job["spec"].get("template") or {})
        tmeta = template.get("metadata") or {}
        name = job["metadata"]["name"]
        base = f"{name}-{index}-" if index is not None else f"{name}-"
        labels = dict(tmeta.get("labels") or {})
        annotations = dict(tmeta.get("annotations") or {})
        pod_spec = template.get("spec") or {}
        if index is not None:
            labels[INDEX_KEY] = str(index)
            annotations[INDEX_KEY] = str(index)
            for container in (pod_spec.get("containers") or []) + (
                pod_spec.get("initContainers") or []
            ):
                env = container.setdefault("env", [])
                env.insert(
                    0,
                    {
                        "name": "JOB_COMPLETION_INDEX",
                        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}},
                    },
                )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": base[:58],
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_reference(job)],
            },
            "spec": pod_spec,
        }
        created = self.api.create(self.pods, job["metadata"]["namespace"], pod)
        self.api.event(
            job,
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            component=COMPONENT,
        )
        return created

    def _delete_pods(self, job: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            self._deleted_by_me.add(meta["uid"])
            self.api.delete(self.pods, meta["namespace"], meta["name"])
            self.api.event(
                job, "SuccessfulDelete", f"Deleted pod: {meta['name']}", component=COMPONENT
            )
