"""A pod on an interLink virtual node, as interLink's virtual kubelet shows it.

Imitates interLink's virtual kubelet and its plugin's remote batch system (Slurm, HTCondor):
the pod gets a ``JobID`` annotation and stays Pending while the remote system queues it
(containers waiting ``Remote pod submitted``, the site's ``remote_queue_delay``, longer while
the site is down); the plugin may refuse it (``ProviderFailed``) or the remote job end at once
with an exit code (``Error: <code>``); terminated containers report ``Completed`` or
``Error: <code>``. Its address is ``127.0.0.1`` (nothing can connect to it) unless interLink's
VPN or tunnel connects it (:mod:`..interlink`). The site faults come from the sandbox's fault
switches (:class:`SiteFaults`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import TYPE_CHECKING, Protocol

from ..interlink import UNREACHABLE_POD_IP, Reach, reach
from ..objects import Obj, timestamp

if TYPE_CHECKING:
    from .containers import ContainerRun
    from .podworker import PodWorker

REMOTE_SUBMITTED = "Remote pod submitted"
#: interLink's words for a pod deleted, and each container it ended on that account.
DELETED_POD = "VKProviderPodDeleted"
DELETED_CONTAINER = "VKProviderPodContainerDeleted"
DELETED_MESSAGE = "VK provider terminated container upon deletion"


class SiteFaults(Protocol):
    """The faults the kubelet asks about a site (the sandbox's fault switches)."""

    def site_is_down(self, site: str) -> bool: ...

    def provider_failure_message(self, site: str) -> str | None: ...

    def exit_code_of(self, site: str) -> int | None: ...


async def submit(worker: PodWorker, pod: Obj) -> bool:
    """Hand the pod to the remote site: its addresses, the ``JobID`` annotation, Pending while
    the remote queue holds it. False when the pod stops meanwhile or the site fails it
    (``ProviderFailed``, or an exit code: the pod Failed); True when its containers may start."""
    site = worker.site
    faults = worker.kubelet.faults
    worker.ip, worker.bind_ip = _remote_addresses(worker, pod)
    for run in worker.containers.values():
        run.status["state"] = {"waiting": {"reason": REMOTE_SUBMITTED}}
    job_id = f"{site.job_id_prefix}-{random.randint(100000, 999999)}"

    def annotate(p: Obj) -> None:
        p["metadata"].setdefault("annotations", {})["JobID"] = job_id

    worker.api.modify(worker.kubelet.pods, worker.namespace, worker.name, annotate)
    worker.write("Pending")
    left = site.remote_queue_delay
    while left > 0 or faults.site_is_down(site.name):
        if worker.stopping.is_set():
            return False
        step = 0.05
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(worker.stopping.wait(), step)
        if not faults.site_is_down(site.name):
            left -= step
    failure = faults.provider_failure_message(site.name)
    if failure is not None:
        _fail_all(worker, 1, "ProviderFailed", failure)
        worker.write("Failed", "ProviderFailed", failure)
        return False
    code = faults.exit_code_of(site.name)
    if code is not None:
        text = f"Error: {code}"
        _fail_all(worker, code, text, "")
        worker.write("Failed", text, "")
        return False
    return True


def _remote_addresses(worker: PodWorker, pod: Obj) -> tuple[str, str]:
    """(reported, listening) addresses of a pod on a virtual node: reachable only through
    interLink's VPN or tunnel (see :mod:`..interlink`)."""
    if reach(pod, tunnel=worker.site.tunnel) is Reach.NONE:
        worker.connected = False
        return UNREACHABLE_POD_IP, worker.kubelet.remote_hosts.allocate()
    address = worker.kubelet.addresses.allocate()
    return address, address


def _fail_all(worker: PodWorker, code: int, reason: str, message: str) -> None:
    """Every container terminated for good with the site's failure, never having run."""
    stamp = timestamp()
    for run in worker.containers.values():
        _end(run, code=code, reason=reason, message=message, stamp=stamp, started=stamp)


def _end(
    run: ContainerRun,
    *,
    code: int,
    reason: str,
    message: str,
    stamp: str,
    started: str | None = None,
) -> None:
    """The container terminated for good at ``stamp`` (having started at ``started``, if
    given), in the site's words."""
    terminated: Obj = {"exitCode": code, "reason": reason, "finishedAt": stamp}
    if started:
        terminated["startedAt"] = started
    if message:
        terminated["message"] = message
    run.status["state"] = {"terminated": terminated}
    run.done = True


def show_deleted(worker: PodWorker) -> None:
    """A deleted pod as interLink's virtual kubelet shows it: every container not yet ended
    terminated ``VKProviderPodContainerDeleted``, the pod ``VKProviderPodDeleted``."""
    if worker.pod() is None:
        return
    ended = all("terminated" in run.status["state"] for run in worker.containers.values())
    if ended:
        return
    stamp = timestamp()
    for run in worker.containers.values():
        if "terminated" not in run.status["state"]:
            _end(run, code=137, reason=DELETED_CONTAINER, message=DELETED_MESSAGE, stamp=stamp)
            run.status["ready"] = False
        run.done = True
    worker.write("Failed", DELETED_POD)


def exit_reason(code: int) -> str:
    """A terminated container's reason as interLink reports it."""
    return "Completed" if code == 0 else f"Error: {code}"
