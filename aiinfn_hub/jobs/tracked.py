"""What the jobs manager knows about one job, and the compact form an ended job rests in.

A long-lived service tracks every job whose record is still kept (100,000 of them with the
default 90-day history), and nearly all of them have ended. An ended job's view no longer
changes unless its record does, so once the controller has reconciled it the job *rests*:
its view is kept only packed (:mod:`.packed`: the JSON text listings send, deflated), and
its record only as a :class:`Stub` (version, annotations, staged files) without the texts
of its request and attempts, which the view carries already. Nothing parsed is kept: the
request, the attempts and the view are parsed again from the packed text when something
asks for them (a ``GET /jobs/{id}``, a log request, a rerun), and the controller wakes the
job (parses once) for the time of a reconcile. A new version of the record (from the watch
or from a patch) makes the job a full one again until its next reconcile.

Listings and metrics read the job's state, site and submission time from small fields, never
from the view, so listing resting jobs costs no parse, only unpacking the page sent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, NamedTuple

from ..apitypes import AttemptView, JobView, PlanView
from . import actions as A
from . import labels as L
from . import slim
from .manifests import RECORD_KEYS
from .model import State
from .packed import Packed, pack, unpack

#: The plan of a job whose record is not read yet (no view is built before it is).
NO_PLAN: PlanView = {"requires_gpu": False, "offloadable": False, "sites": [], "ruled_out": []}


def signature(view: JobView) -> tuple[Any, ...]:
    """What of a view, when it changes, is worth an event to the job's owner."""
    return (
        view["state"],
        view["site"],
        len(view["attempts"]),
        tuple(view["progress"].values()),
        view["reason"],
        len(view["actions"]),
        view["explanation"]["sentence"] if "explanation" in view else None,
    )


class Stub(NamedTuple):
    """A resting job's record: what the controller and retention read of it. The version
    tells a newer record; the uid, needed only to create attempts, is not kept."""

    version: str | None
    annotations: dict[str, str]  # all but the attempts (the view has them)
    staged: dict[str, str] | None  # staged files, until retention removes them
    plan: str | None  # the plan's text, one string for every job with that plan

    @classmethod
    def of(cls, record: dict[str, Any]) -> Stub:
        meta = record.get("metadata") or {}
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != L.ATTEMPTS}
        if L.OWNER_NAME in annotations:  # one string per user, however many jobs
            annotations[L.OWNER_NAME] = slim.once(annotations[L.OWNER_NAME])
        data = record.get("data") or {}
        staged = {k: v for k, v in data.items() if k not in RECORD_KEYS}
        return cls(meta.get("resourceVersion"), annotations, staged or None, data.get("plan.json"))

    def record(self, job_id: str) -> dict[str, Any]:
        """The stub in the shape of a record (made at each call: read-only)."""
        meta = {"name": L.record_name(job_id), "resourceVersion": self.version}
        record: dict[str, Any] = {"metadata": {**meta, "annotations": self.annotations}}
        if self.staged:
            record["data"] = self.staged
        return record


class JobLock:
    """An :class:`asyncio.Lock` that counts who holds it or waits for it, so that a resting
    job can let it go (a new one is made at the next use) without two holders at once."""

    __slots__ = ("_lock", "users")

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.users = 0

    def locked(self) -> bool:
        return self._lock.locked()

    async def __aenter__(self) -> None:
        self.users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self.users -= 1
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        self.users -= 1


class Tracked:
    """Everything the manager knows about one job, rebuilt from the cache; see the module's
    docstring for the compact form of an ended job (:meth:`rest`, :meth:`wake`)."""

    __slots__ = (
        "_attempts",
        "_lock",
        "_pods",
        "_record",
        "_signature",
        "_spec",
        "_view",
        "encoded",
        "job_id",
        "parsed_history",
        "parsed_version",
        "plan",
        "site",
        "state",
        "timer",
        "viewed_version",
    )

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._record: dict[str, Any] | Stub | None = None
        self._attempts: dict[int, dict[str, Any]] | None = None
        self._pods: dict[str, dict[str, Any]] | None = None
        self._view: JobView | None = None
        #: the view as JSON, made when a listing first needs it (a resting job's: packed)
        self.encoded: str | Packed | None = None
        self.state: str | None = None  # the view's state and site, for listings
        self.site: str | None = None
        self.viewed_version: str | None = None  # the record version the view was built from
        self._signature: tuple[Any, ...] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._lock: JobLock | None = None
        self.parsed_version: str | None = None
        self._spec: dict[str, Any] | None = None
        self.plan: PlanView = NO_PLAN  # shared with every job of the same plan: read-only
        self.parsed_history: tuple[str, list[AttemptView]] | None = None

    # ------------------------------------------------------------------ parts made on use

    @property
    def attempts(self) -> dict[int, dict[str, Any]]:
        """The Jobs of its attempts, by number."""
        if self._attempts is None:
            self._attempts = {}
        return self._attempts

    @property
    def pods(self) -> dict[str, dict[str, Any]]:
        """Its pods, by name."""
        if self._pods is None:
            self._pods = {}
        return self._pods

    @property
    def lock(self) -> JobLock:
        """Held while the job is reconciled or changed by a user's operation."""
        if self._lock is None:
            self._lock = JobLock()
        return self._lock

    # ------------------------------------------------------------------ the record

    @property
    def resting(self) -> bool:
        """Whether it keeps only its compact form (its view packed, its record a stub)."""
        return isinstance(self._record, Stub) and self._view is None

    @property
    def record(self) -> dict[str, Any] | None:
        """Its record (a resting job's: the stub, as a record without request and attempts)."""
        if isinstance(self._record, Stub):
            return self._record.record(self.job_id)
        return self._record

    @record.setter
    def record(self, value: dict[str, Any] | None) -> None:
        self.wake()  # the view stays as it was until the controller builds the next one
        self._record = value

    @property
    def annotations(self) -> dict[str, str]:
        if isinstance(self._record, Stub):
            return self._record.annotations
        return ((self._record or {}).get("metadata") or {}).get("annotations") or {}

    @property
    def owner(self) -> str:
        return self.annotations.get(L.OWNER_NAME, "")

    @property
    def submitted(self) -> str | None:
        return self.annotations.get(L.SUBMITTED)

    @property
    def final(self) -> dict[str, Any] | None:
        text = self.annotations.get(L.FINAL)
        return slim.shared(text) if text else None  # read-only

    @property
    def actions(self) -> list[dict[str, Any]]:
        return A.recorded(self.annotations)

    @property
    def spec(self) -> dict[str, Any]:
        """The request as recorded (read-only)."""
        if self.resting:
            found: dict[str, Any] = self._resting_view()["spec"]
            return found
        return {} if self._spec is None else self._spec

    @spec.setter
    def spec(self, value: dict[str, Any]) -> None:
        self._spec = value

    @property
    def history(self) -> list[AttemptView]:
        """The recorded attempts, parsed once per version of the record (read-only)."""
        if isinstance(self._record, Stub):  # an ended job's view shows exactly its attempts
            view = self._resting_view() if self._view is None else self._view  # woken: its own
            found: list[AttemptView] = view["attempts"]
            return found
        text = self.annotations.get(L.ATTEMPTS) or "[]"
        if self.parsed_history is None or self.parsed_history[0] is not text:
            self.parsed_history = (text, json.loads(text))
        return self.parsed_history[1]

    # ------------------------------------------------------------------ the view

    @property
    def view(self) -> JobView | None:
        """What users see of the job (a resting job's: parsed again at each call)."""
        if self.resting:
            return self._resting_view()
        return self._view

    @view.setter
    def view(self, value: JobView) -> None:
        self._view = value
        self.encoded = None
        self.state, self.site = value["state"], value["site"]
        self.viewed_version = self.parsed_version

    @property
    def shown(self) -> JobView:
        """The view of a job users can reach: one is built before its submission answers."""
        view = self.view
        if view is None:
            raise LookupError(f"job {self.job_id} has no view yet")
        return view

    @property
    def stored(self) -> dict[str, Any]:
        """The record of a job being reconciled (the controller skips one without)."""
        record = self.record
        if record is None:
            raise LookupError(f"job {self.job_id} has no record")
        return record

    def _resting_view(self) -> JobView:
        """A resting job's view, parsed again from its packed form."""
        found: JobView = json.loads(self.view_json())
        return found

    @property
    def visible(self) -> bool:
        """Whether users see it: its record is known and its view has been built."""
        return self._record is not None and (self._view is not None or self.resting)

    def view_json(self) -> str:
        """The view as JSON text, encoded at most once per change (for listings)."""
        if self.encoded is None:
            self.encoded = json.dumps(self._view)
        encoded = self.encoded
        return encoded if isinstance(encoded, str) else unpack(encoded)

    @property
    def signature(self) -> tuple[Any, ...] | None:
        """The :func:`signature` of the view last published."""
        if self.resting:
            return signature(self._resting_view())
        return self._signature

    @signature.setter
    def signature(self, value: tuple[Any, ...] | None) -> None:
        self._signature = value

    # ------------------------------------------------------------------ resting and waking

    def rest(self) -> bool:
        """Keep an ended job in its compact form: its view packed, its record's stub. Only
        when nobody holds or waits for its lock and its view was built from the record as it
        is now (so that the view's request and attempts are the record's); returns whether
        it rests."""
        record, view = self._record, self._view
        if record is None or view is None or not self.final:
            return False
        if self._lock is not None and self._lock.users:  # someone is changing it
            return False
        if isinstance(record, Stub):  # woken, not changed since
            stub: Stub | None = record
            version = record.version
        else:
            stub = None
            version = record["metadata"].get("resourceVersion")
        if self.viewed_version != version or self.parsed_version != version:
            return False
        shown, history = view["attempts"], self.history
        if (
            not State(view["state"]).terminal
            or view["spec"] is not self._spec
            or len(shown) != len(history)
            or any(a is not b for a, b in zip(shown, history, strict=True))
        ):
            return False
        stub = record if isinstance(record, Stub) else Stub.of(record)
        if not isinstance(self.encoded, Packed):  # a view built since it last rested
            self.encoded = pack(view, stub.plan if view.get("plan") is self.plan else None)
        self._record = stub
        self._view, self._spec, self.parsed_history, self._signature = None, None, None, None
        self._lock = None
        if not self._attempts:
            self._attempts = None
        if not self._pods:
            self._pods = None
        return True

    def wake(self) -> None:
        """Parse a resting job's view once, for the time of a reconcile or a change."""
        if self.resting:
            view = json.loads(self.view_json())
            self._view, self._spec, self._signature = view, view["spec"], signature(view)
