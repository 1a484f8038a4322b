"""The index of tracked jobs, built from the cache.

The reflectors (list+watch of records, Jobs, pods, Workloads and nodes) call
:meth:`JobIndex.on_change` with every object they see. The index files each one under its
job (:class:`~.tracked.Tracked`), keeps the lookups the API needs (by owner, by client request
id, a Job's uid to its job) and the namespace's Workloads and pods (for site queues and
capacity), and tells the controller which job changed. Each map is pruned when what it
indexes is deleted, so a long-lived service holds only what the cluster holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import labels as L
from .tracked import Tracked


class JobIndex:
    """Every job the cache knows, and the lookups over them; fed by the reflectors."""

    def __init__(self, *, on_job: Callable[[str], None], on_nodes: Callable[[], None]) -> None:
        """``on_job(job_id)``: something of that job changed; ``on_nodes()``: a node did."""
        self._on_job = on_job
        self._on_nodes = on_nodes
        self.jobs: dict[str, Tracked] = {}
        self.by_owner: dict[str, set[str]] = {}
        self.by_request: dict[tuple[str, str], str] = {}
        self.job_uid_to_id: dict[str, str] = {}
        self.workloads: dict[str, dict[str, Any]] = {}  # by the uid of the Job they admit
        self.all_pods: dict[str, dict[str, Any]] = {}  # every pod of the namespace, by name

    def tracked(self, job_id: str) -> Tracked:
        """The job's entry, made empty if it is new."""
        tracked = self.jobs.get(job_id)
        if tracked is None:
            tracked = self.jobs[job_id] = Tracked(job_id)
        return tracked

    def owned(self, owner: str) -> Iterable[str]:
        """The ids of ``owner``'s jobs."""
        return self.by_owner.get(owner, ())

    def by_client_request(self, owner: str, request_id: str) -> Tracked | None:
        """``owner``'s job submitted with ``request_id`` (a retried submission), if known."""
        job_id = self.by_request.get((owner, L.label_value(request_id)))
        return self.jobs.get(job_id) if job_id else None

    def add(self, job_id: str, owner: str, request_label: str | None) -> None:
        """File a job under its owner and (if it has one) its client request id's label."""
        self.by_owner.setdefault(owner, set()).add(job_id)
        if request_label:
            self.by_request[(owner, request_label)] = job_id

    def _unfile(self, tracked: Tracked) -> None:
        """Undo :meth:`add`, as the job's record is deleted (read from the record still held:
        its labels, or a resting job's recorded request)."""
        record = tracked.record
        if record is None:
            return
        owner = tracked.owner
        labels = record["metadata"].get("labels")  # a resting job's stub keeps none
        if labels is not None:
            request_label = labels.get(L.REQUEST_ID)
        else:
            request = tracked.spec.get("client_request_id")
            request_label = L.label_value(request) if request else None
        owned = self.by_owner.get(owner)
        if owned is not None:
            owned.discard(tracked.job_id)
            if not owned:
                del self.by_owner[owner]
        if request_label and self.by_request.get((owner, request_label)) == tracked.job_id:
            del self.by_request[(owner, request_label)]

    def attempt_created(self, job: Mapping[str, Any], job_id: str) -> None:
        """A Job made for ``job_id``: its Workload (keyed by its uid) belongs to that job."""
        self.job_uid_to_id[job["metadata"].get("uid", "")] = job_id

    def forget(self, tracked: Tracked) -> None:
        """Drop a job whose record, Jobs and pods are all gone (the record's deletion took it
        out of the lookups already)."""
        self._unfile(tracked)
        self.jobs.pop(tracked.job_id, None)
        if tracked.timer:
            tracked.timer.cancel()

    # ------------------------------------------------------------------ cache events

    def on_change(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        """A reflector saw ``obj`` (of ``kind``) added, modified or ``DELETED``."""
        deleted = event == "DELETED"
        if kind == "node":
            self._on_nodes()
        elif kind == "workload":
            self._workload(obj, deleted)
        elif kind == "pod":
            self._pod(obj, deleted)
        elif kind == "configmap":
            self._record(obj, deleted)
        elif kind == "job":
            self._attempt(obj, deleted)

    def _workload(self, obj: dict[str, Any], deleted: bool) -> None:
        """A Kueue Workload, filed by the uid of the Job it admits; that job changed."""
        meta = obj.get("metadata") or {}
        uid = (meta.get("labels") or {}).get(L.KUEUE_JOB_UID) or next(
            (r.get("uid") for r in meta.get("ownerReferences") or () if r.get("kind") == "Job"),
            None,
        )
        if not uid:
            return
        if deleted:
            self.workloads.pop(uid, None)
        else:
            self.workloads[uid] = obj
        if uid in self.job_uid_to_id:
            self._on_job(self.job_uid_to_id[uid])

    def _pod(self, obj: dict[str, Any], deleted: bool) -> None:
        """Any pod of the namespace (for capacity); one of a job's attempts, to its job."""
        meta = obj["metadata"]
        labels = meta.get("labels") or {}
        key = meta["name"]
        if deleted:
            self.all_pods.pop(key, None)
        else:
            self.all_pods[key] = obj
        job_id = labels.get(L.JOB_ID)
        if not job_id or labels.get(L.MANAGED_BY) != L.MANAGER:
            return
        tracked = self.tracked(job_id)
        if deleted:
            tracked.pods.pop(key, None)
        else:
            tracked.pods[key] = obj
        self._on_job(job_id)

    def _record(self, obj: dict[str, Any], deleted: bool) -> None:
        """A job's record: the job is known (and filed by owner and request) while it exists."""
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        job_id = labels.get(L.JOB_ID)
        if deleted and not labels:  # a relist's, by name (kube/cache.py)
            job_id = L.record_job_id(meta["name"])
        if not job_id:
            return
        tracked = self.tracked(job_id)
        if deleted:
            self._unfile(tracked)
        tracked.record = None if deleted else obj
        if not deleted:
            self.add(job_id, tracked.owner, labels.get(L.REQUEST_ID))
        self._on_job(job_id)

    def _attempt(self, obj: dict[str, Any], deleted: bool) -> None:
        """The Job of one of a job's attempts, by its number; its uid maps to the job."""
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        job_id = labels.get(L.JOB_ID)
        if not job_id:
            return
        tracked = self.tracked(job_id)
        number = int(labels.get(L.ATTEMPT, "1"))
        if deleted:
            tracked.attempts.pop(number, None)
            self.job_uid_to_id.pop(meta.get("uid", ""), None)
        else:
            tracked.attempts[number] = obj
            self.job_uid_to_id[meta.get("uid", "")] = job_id
        self._on_job(job_id)
