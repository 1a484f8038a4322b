"""A pod's worker: one pod run from its start to its terminal phase, or until it is deleted.

Imitates the kubelet's pod workers and status manager (pkg/kubelet: pod_workers.go,
``SyncPod``, status/status_manager.go): the pod's address and start time, its init containers
one after the other then its containers together, each restarted as the pod's
``restartPolicy`` says with the kubelet's back-off (``CrashLoopBackOff``), the pod's phase,
conditions and container statuses written as they change; at deletion every process stopped
within the grace period and the pod object removed. On an interLink virtual node the remote
site takes the pod first (:mod:`.virtualnode`); a container's process is started by
:mod:`.containers`, its readiness probed by :mod:`.probes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ApiError
from ..objects import Obj, clone, now, parse_time, set_condition, timestamp
from ..topology import SiteSpec
from . import probes, virtualnode
from .containers import ContainerRun, start_process

if TYPE_CHECKING:
    from .node import Kubelet

log = logging.getLogger("aiinfn_hub.sandbox.kubelet")
RESTART_BACKOFF_MAX = 30.0


class PodWorker:
    """Runs one pod from start to its terminal phase, or until it is deleted."""

    def __init__(self, kubelet: Kubelet, site: SiteSpec, pod: Obj) -> None:
        self.kubelet = kubelet
        self.site = site
        self.api = kubelet.api
        self._shutdown: float | None = None  # the sandbox stops: grace, and no final delete
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = kubelet.state_dir / "pods" / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.stopping = asyncio.Event()
        self.containers: dict[str, ContainerRun] = {}
        self.init_done = not (pod.get("spec") or {}).get("initContainers")
        self.ip = ""  # the pod's address as its status reports it
        self.bind_ip = ""  # where its processes listen (a remote machine's, see .interlink)
        self.connected = True  # False: on a virtual node, reachable neither by VPN nor tunnel
        self.task = asyncio.get_running_loop().create_task(self._main(), name=f"pod-{self.name}")

    # -- status -----------------------------------------------------------------------------------

    def pod(self) -> Obj | None:
        """The pod as stored now, if it is still this worker's (same uid)."""
        pod = self.api.find(self.kubelet.pods, self.namespace, self.name)
        return pod if pod is not None and pod["metadata"]["uid"] == self.uid else None

    def write(
        self, phase: str | None = None, reason: str | None = None, message: str | None = None
    ) -> None:
        """Write the pod's status: address, container statuses, conditions, phase (``phase``:
        that one instead of the containers' verdict) and, if given, reason and message."""
        runs = list(self.containers.values())
        regular = [r for r in runs if not r.spec.get("_init")]
        ready = bool(regular) and all(r.ready for r in regular)
        new_phase = phase or self._phase()
        if new_phase in ("Succeeded", "Failed"):
            why, unready = "PodCompleted", ""
        elif ready:
            why = unready = ""
        else:
            names = " ".join(r.spec["name"] for r in regular if not r.ready)
            why, unready = "ContainersNotReady", f"containers with unready status: [{names}]"

        def apply(pod: Obj) -> None:
            if pod["metadata"]["uid"] != self.uid:
                return
            status = pod.setdefault("status", {})
            if self.ip:
                status.update(podIP=self.ip, podIPs=[{"ip": self.ip}])
            status["containerStatuses"] = [clone(r.status) for r in regular]
            init = [clone(r.status) for r in runs if r.spec.get("_init")]
            if init:
                status["initContainerStatuses"] = init
            set_condition(status, "Initialized", self.init_done, probe_times=True)
            for ctype in ("Ready", "ContainersReady"):
                set_condition(status, ctype, ready, why, unready, probe_times=True)
            status["phase"] = new_phase
            if reason is not None:
                status["reason"] = reason
            if message is not None:
                status["message"] = message

        self.api.modify(self.kubelet.pods, self.namespace, self.name, apply)

    def _phase(self) -> str:
        """The pod's phase from its containers: Pending until initialized and one runs;
        Succeeded or Failed once all are done; else Running."""
        runs = [r for r in self.containers.values() if not r.spec.get("_init")]
        if not self.init_done or not runs:
            return "Pending"
        if all(r.done for r in runs):
            codes = [r.status["state"].get("terminated", {}).get("exitCode", 1) for r in runs]
            return "Succeeded" if all(c == 0 for c in codes) else "Failed"
        if any(
            "running" in r.status["state"] or (r.process is not None and not r.post_start)
            for r in runs
        ):
            return "Running"
        return "Pending"

    def _status_for(self, spec: Obj, waiting: str, message: str = "") -> Obj:
        state: Obj = {"reason": waiting}
        if message:
            state["message"] = message
        return {
            "name": spec["name"],
            "image": spec.get("image", ""),
            "imageID": f"sandbox://{spec.get('image', '')}",
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": {"waiting": state},
            "lastState": {},
        }

    def record_exit(self, run: ContainerRun, code: int) -> None:
        """The container's process exited with ``code``: its terminated state (in interLink's
        words on a virtual node, where a failure is also the pod's reason)."""
        started = (run.status.get("state", {}).get("running") or {}).get("startedAt", timestamp())
        if self.site.virtual:
            reason = virtualnode.exit_reason(code)
        else:
            reason = "Completed" if code == 0 else "Error"
        run.status["state"] = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": timestamp(),
                "containerID": run.status.get("containerID", ""),
            }
        }
        run.status["ready"] = run.ready = False
        run.process = None
        if self.site.virtual and code != 0:
            self.write(reason=reason)

    # -- lifecycle --------------------------------------------------------------------------------

    async def _main(self) -> None:
        """The pod's life: its containers' statuses, its start, its containers run; at the
        end every process stopped and, if the pod was deleted, the pod object removed."""
        try:
            pod = self.pod()
            if pod is None:
                return
            spec = pod.get("spec") or {}
            for c in spec.get("initContainers") or []:
                self.containers[c["name"]] = ContainerRun(
                    dict(c, _init=True),
                    self._status_for(c, "PodInitializing"),
                    self._log_path(c["name"]),
                )
            for c in spec.get("containers") or []:
                self.containers[c["name"]] = ContainerRun(
                    dict(c), self._status_for(c, "ContainerCreating"), self._log_path(c["name"])
                )
            if await self._start_pod(pod):
                await self._run_containers()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s/%s failed in the kubelet", self.namespace, self.name)
        finally:
            await self._kill_all(self._shutdown)
        if self.stopping.is_set() and self._shutdown is None:
            self._finalize_delete()

    def _log_path(self, container: str) -> Path:
        return self.dir / "logs" / f"{container}.log"

    async def _start_pod(self, pod: Obj) -> bool:
        """Address, start time; on a virtual node the remote queue and its failures first."""

        def start(p: Obj) -> None:
            status = p.setdefault("status", {})
            status.update(hostIP="127.0.0.1", hostIPs=[{"ip": "127.0.0.1"}], startTime=timestamp())
            set_condition(status, "PodReadyToStartContainers", True, probe_times=True)

        self.api.modify(self.kubelet.pods, self.namespace, self.name, start)
        if self.site.virtual:
            if not await virtualnode.submit(self, pod):
                return False
        else:
            self.ip = self.bind_ip = self.kubelet.addresses.allocate()
        self.write()
        return True

    async def _run_containers(self) -> None:
        """The init containers one after the other (a failure fails the pod), then the
        containers together."""
        init = [r for r in self.containers.values() if r.spec.get("_init")]
        for run in init:
            code = await self._run_one(run)
            if self.stopping.is_set() or code is None:
                return
            if code != 0:
                self.write("Failed")
                return
        self.init_done = True
        regular = [r for r in self.containers.values() if not r.spec.get("_init")]
        await asyncio.gather(*(self._run_one(r) for r in regular))
        if not self.stopping.is_set():
            self.write()

    async def _run_one(self, run: ContainerRun) -> int | None:
        """Run a container until it is done for good; returns its last exit code."""
        policy = self._restart_policy()
        if run.spec.get("_init") and policy == "Always":
            policy = "OnFailure"  # init containers run to completion: retried only on failure
        code: int | None = None
        while not self.stopping.is_set():
            started = await start_process(self, run)
            if started is None:
                return None
            if started:
                probe = asyncio.get_running_loop().create_task(probes.readiness(self, run))
                code = await self._wait_or_stop(run)
                probe.cancel()
                if code is None:
                    return None
            else:
                code = int(run.status["state"]["terminated"]["exitCode"])
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart:
                run.done = True
                self.write()
                return code
            run.status["restartCount"] = int(run.status.get("restartCount", 0)) + 1
            delay = min(2 ** (run.status["restartCount"] - 1), RESTART_BACKOFF_MAX)
            run.status["lastState"] = {"terminated": run.status["state"]["terminated"]}
            if run.hook_error is not None:
                # what the kubelet reports between the failed start and the next one
                hook_error, run.hook_error = run.hook_error, None
                run.status["state"] = {
                    "waiting": {"reason": "PostStartHookError", "message": hook_error}
                }
                self.write()
            message = (
                f"back-off {int(delay)}s restarting failed container={run.spec['name']} "
                f"pod={self.name}_{self.namespace}({self.uid})"
            )
            run.status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            self.write()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
        return code

    def _restart_policy(self) -> str:
        """The pod's ``restartPolicy`` (``Always`` when it names none)."""
        pod = self.pod() or {}
        return (pod.get("spec") or {}).get("restartPolicy", "Always")

    async def _wait_or_stop(self, run: ContainerRun) -> int | None:
        """The exit code of the container's process, recorded; None if the pod stops first."""
        assert run.process is not None
        code = await self.unless_stopped(run.process.wait())
        if code is not None:
            self.record_exit(run, code)
        return code

    async def unless_stopped(self, exit_code: Awaitable[int]) -> int | None:
        """The exit code, or None if the pod stops first."""
        stop = asyncio.get_running_loop().create_task(self.stopping.wait())
        done = asyncio.ensure_future(exit_code)
        await asyncio.wait({stop, done}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not done.done():
            done.cancel()
            return None
        return done.result()

    # -- stopping ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self.stopping.set()

    def shutdown(self, grace: float) -> None:
        self._shutdown = grace
        self.stopping.set()

    async def _kill_all(self, grace: float | None = None) -> None:
        """Stop every process: SIGTERM, then SIGKILL after ``grace`` (default: what is left
        of the pod's deletion grace period)."""
        running = [r for r in self.containers.values() if r.process is not None]
        pod = self.pod()
        deadline = parse_time((pod or {}).get("metadata", {}).get("deletionTimestamp"))
        # interLink's virtual kubelet shows a deleted pod's containers ended its own way
        deleted = self.site.virtual and deadline is not None and self._shutdown is None
        if not running and not deleted:
            return
        if grace is None:
            grace = max((deadline - now()).total_seconds(), 0.0) if deadline else 0.0
        codes = await asyncio.gather(*(r.process.terminate(grace) for r in running if r.process))
        for run, code in zip(running, codes, strict=False):
            if not deleted:
                self.record_exit(run, code)
            run.done = True
        if deleted:
            virtualnode.show_deleted(self)
        elif self.pod() is not None:
            self.write()

    def _finalize_delete(self) -> None:
        """Remove the deleted pod object once its processes are gone (this very pod only)."""
        try:
            self.api.delete(
                self.kubelet.pods,
                self.namespace,
                self.name,
                {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}},
            )
        except ApiError as exc:  # gone already (404), or a new pod of that name (409)
            log.debug("pod %s/%s: not deleted at its end: %s", self.namespace, self.name, exc)

    def container_running(self, container: str) -> bool:
        """Whether the container has a process now."""
        run = self.containers.get(container)
        return run is not None and run.process is not None

    def log_path(self, container: str) -> Path | None:
        """The container's log, once it has started (None while it waits without one)."""
        run = self.containers.get(container)
        if run is None or ("waiting" in run.status["state"] and not run.log_path.exists()):
            return None
        return run.log_path
