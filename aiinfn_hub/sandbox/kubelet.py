"""Kubelets: each node's pods run as local processes, on a loopback address of their own.

Networking: every pod gets an address in 127.0.0.0/8 (``status.podIP``, env ``POD_IP``) that
any process may bind without privileges, so many servers can listen on port 8888 at once; a
``JUPYTERHUB_SERVICE_URL`` on 0.0.0.0 is pointed at that address. (Network namespaces would be
closer to a real pod but need root, which Binder and laptops do not give.)

interLink virtual nodes behave as the virtual kubelet shows them: the pod stays Pending while
the remote batch system queues it (container waiting "Remote pod submitted"), gets a ``JobID``
annotation, and terminated containers report "Completed" or "Error: <code>". Its address is
``127.0.0.1`` (nothing can connect to it) unless interLink's VPN or tunnel connects it
(:mod:`.interlink`).

Lifecycle hooks: a container's ``postStart`` ``exec`` command runs as the kubelet runs it, once
the container's process has started, with the container's environment, working directory and
mounts; until it ends the container stays waiting and the pod is not Running. If it fails, a
``FailedPostStartHook`` event says why, the container is killed and restarted as its pod's
restartPolicy says (waiting ``PostStartHookError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import Awaitable, Hashable, Iterable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Protocol
from urllib.request import urlopen

from .api import Api
from .controllers.base import Controller
from .errors import ApiError
from .interlink import UNREACHABLE_POD_IP, Reach, RemoteHosts, reach
from .objects import Obj, clone, is_terminal_pod, now, parse_time, set_condition, timestamp
from .podenv import EnvError, Lookup, command_line, container_env, rewrite_service_url
from .runtime import LocalProcess
from .store import Event
from .topology import SiteSpec
from .volumes import Mounts, VolumeError, materialize, mounts_for, remove_pod_dir

log = logging.getLogger("aiinfn_hub.sandbox.kubelet")
REMOTE_SUBMITTED = "Remote pod submitted"
RESTART_BACKOFF_MAX = 30.0
HOOK_OUTPUT_MAX = 1024  # characters of a failed hook's output in its event


class SiteFaults(Protocol):
    def site_is_down(self, site: str) -> bool: ...

    def provider_failure_message(self, site: str) -> str | None: ...

    def exit_code_of(self, site: str) -> int | None: ...


class AddressPool:
    """Pod addresses 127.1.0.1, 127.1.0.2, ... (never 127.0.0.x, never .0 or .255); pool
    ``block`` starts at 127.(1 + block).0.1, so that kubelets in separate processes (the
    node agents of the real control plane) never give two pods one address."""

    def __init__(self, block: int = 0) -> None:
        self._next = itertools.count(block * 254 * 256)

    def allocate(self) -> str:
        n = next(self._next) % (254 * 256 * 254)
        return f"127.{1 + n // (254 * 256)}.{(n // 254) % 256}.{n % 254 + 1}"


@dataclass(frozen=True)
class ProcessContext:
    """What a container's processes run with: its environment, working directory and
    mounts (a command exec'd in the container gets the same)."""

    env: dict[str, str]
    cwd: Path
    mounts: Mounts


@dataclass
class ContainerRun:
    """One container of a pod: its spec, process, status and readiness."""

    spec: Obj
    status: Obj
    log_path: Path
    process: LocalProcess | None = None
    done: bool = False  # terminated for good (no restart coming)
    ready: bool = False
    post_start: bool = False  # its postStart hook is running: not Running yet
    hook_error: str | None = None  # why its postStart hook failed, until it restarts
    context: ProcessContext | None = None  # of its current process


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
        pod = self.api.find(self.kubelet.pods, self.namespace, self.name)
        return pod if pod is not None and pod["metadata"]["uid"] == self.uid else None

    def write(
        self, phase: str | None = None, reason: str | None = None, message: str | None = None
    ) -> None:
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

    # -- lifecycle --------------------------------------------------------------------------------

    async def _main(self) -> None:
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
        site = self.site
        faults = self.kubelet.faults

        def start(p: Obj) -> None:
            status = p.setdefault("status", {})
            status.update(hostIP="127.0.0.1", hostIPs=[{"ip": "127.0.0.1"}], startTime=timestamp())
            set_condition(status, "PodReadyToStartContainers", True, probe_times=True)

        self.api.modify(self.kubelet.pods, self.namespace, self.name, start)
        if site.virtual:
            self.ip, self.bind_ip = self._remote_addresses(pod)
            for run in self.containers.values():
                run.status["state"] = {"waiting": {"reason": REMOTE_SUBMITTED}}
            job_id = f"{site.job_id_prefix}-{random.randint(100000, 999999)}"

            def annotate(p: Obj) -> None:
                p["metadata"].setdefault("annotations", {})["JobID"] = job_id

            self.api.modify(self.kubelet.pods, self.namespace, self.name, annotate)
            self.write("Pending")
            left = site.remote_queue_delay
            while left > 0 or faults.site_is_down(site.name):
                if self.stopping.is_set():
                    return False
                step = 0.05
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), step)
                if not faults.site_is_down(site.name):
                    left -= step
            failure = faults.provider_failure_message(site.name)
            if failure is not None:
                self._fail_all(1, "ProviderFailed", failure)
                self.write("Failed", "ProviderFailed", failure)
                return False
            code = faults.exit_code_of(site.name)
            if code is not None:
                text = f"Error: {code}"
                self._fail_all(code, text, "")
                self.write("Failed", text, "")
                return False
        if not site.virtual:
            self.ip = self.bind_ip = self.kubelet.addresses.allocate()
        self.write()
        return True

    def _remote_addresses(self, pod: Obj) -> tuple[str, str]:
        """(reported, listening) addresses of a pod on a virtual node: reachable only through
        interLink's VPN or tunnel (see :mod:`.interlink`)."""
        if reach(pod, tunnel=self.site.tunnel) is Reach.NONE:
            self.connected = False
            return UNREACHABLE_POD_IP, self.kubelet.remote_hosts.allocate()
        address = self.kubelet.addresses.allocate()
        return address, address

    def _fail_all(self, code: int, reason: str, message: str) -> None:
        stamp = timestamp()
        for run in self.containers.values():
            terminated: Obj = {
                "exitCode": code,
                "reason": reason,
                "startedAt": stamp,
                "finishedAt": stamp,
            }
            if message:
                terminated["message"] = message
            run.status["state"] = {"terminated": terminated}
            run.done = True

    async def _run_containers(self) -> None:
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
            started = await self._start_process(run)
            if started is None:
                return None
            if started:
                probe = asyncio.get_running_loop().create_task(self._readiness(run))
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
        pod = self.pod() or {}
        return (pod.get("spec") or {}).get("restartPolicy", "Always")

    async def _start_process(self, run: ContainerRun) -> bool | None:
        """Start the process: True; a start error recorded as terminated: False; stopped: None."""
        while True:
            pod = self.pod()
            if pod is None or self.stopping.is_set():
                return None
            try:
                volumes = materialize(
                    pod,
                    self.dir,
                    self.kubelet.state_dir / "claims",
                    self.kubelet.lookup(self.namespace),
                    allow_claims=not self.site.virtual,
                )
                mounts = mounts_for(run.spec, volumes)
                env, argv, cwd = self._process_args(pod, run.spec, mounts)
                break
            except VolumeError as exc:
                run.status["state"] = {"waiting": {"reason": "ContainerCreating"}}
                self.write()
                self.api.event(pod, "FailedMount", str(exc), type="Warning", component="kubelet")
            except EnvError as exc:
                run.status["state"] = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}
                }
                self.write()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)
        stamp = timestamp()
        container_id = (
            f"sandbox://{self.uid[:8]}-{run.spec['name']}-{run.status.get('restartCount', 0)}"
        )

        def start_error(message: str) -> bool:
            run.status["state"] = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": message,
                    "startedAt": stamp,
                    "finishedAt": stamp,
                    "containerID": container_id,
                }
            }
            return False

        if not argv:
            return start_error(
                "the sandbox runs no image entrypoint: give the container a command or args"
            )
        if run.log_path.exists():
            run.log_path.replace(run.log_path.with_suffix(".previous.log"))
        try:
            run.process = LocalProcess.spawn(
                argv, env, cwd, run.log_path, isolated=not self.connected
            )
        except OSError as exc:
            return start_error(f'exec: "{argv[0]}": {exc.strerror or exc}')
        run.status["containerID"] = container_id
        run.context = ProcessContext(env, cwd, mounts)
        if not run.spec.get("_init"):
            self.api.event(
                pod, "Started", f"Started container {run.spec['name']}", component="kubelet"
            )
        hook = ((run.spec.get("lifecycle") or {}).get("postStart") or {}).get("exec")
        if hook is not None:
            command = list(hook.get("command") or [])
            hooked = await self._post_start(pod, run, command, env, cwd, mounts)
            if not hooked:
                return hooked
        run.status.update(started=True, state={"running": {"startedAt": stamp}})
        run.ready = not run.spec.get("readinessProbe") and not run.spec.get("_init")
        run.status["ready"] = run.ready
        self.write()
        return True

    async def _post_start(
        self,
        pod: Obj,
        run: ContainerRun,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        mounts: Mounts,
    ) -> bool | None:
        """Run the container's postStart exec hook: True when it succeeds; False when it fails
        (a FailedPostStartHook event, the container killed and its exit recorded); None when
        the pod stops meanwhile."""
        argv = [mounts.rewrite(str(a)) for a in command]
        output_path = self.dir / "hooks" / f"{run.spec['name']}.postStart.log"
        output_path.unlink(missing_ok=True)
        error: str | None = None
        run.post_start = True
        try:
            if not argv:
                error = "exec: no command given"
            else:
                try:
                    process = LocalProcess.spawn(
                        argv, env, cwd, output_path, isolated=not self.connected
                    )
                except OSError as exc:
                    error = f'exec: "{argv[0]}": {exc.strerror or exc}'
                else:
                    code = await self._unless_stopped(process.wait())
                    if code is None:
                        await process.terminate(0)
                        return None
                    if code != 0:
                        error = f"command '{' '.join(command)}' exited with {code}: "
        finally:
            run.post_start = False
        if error is None:
            return True
        output = output_path.read_text(errors="replace") if output_path.exists() else ""
        message = (
            f'Exec lifecycle hook ([{" ".join(command)}]) for Container "{run.spec["name"]}" '
            f'in Pod "{self.name}_{self.namespace}({self.uid})" failed - error: {error}, '
            f"message: {json.dumps(output[-HOOK_OUTPUT_MAX:], ensure_ascii=False)}"
        )
        self.api.event(pod, "FailedPostStartHook", message, type="Warning", component="kubelet")
        self.api.event(pod, "Killing", "FailedPostStartHook", component="kubelet")
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        assert run.process is not None
        self._record_exit(run, await run.process.terminate(max(30 if grace is None else grace, 2)))
        run.hook_error = message
        return False

    def _process_args(
        self, pod: Obj, spec: Obj, mounts: Mounts
    ) -> tuple[dict[str, str], list[str], Path]:
        home = self.dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        extra = {
            "POD_IP": self.bind_ip,
            "KUBERNETES_SERVICE_HOST": self.kubelet.api_host,
            "KUBERNETES_SERVICE_PORT": str(self.kubelet.api_port),
        }
        env = container_env(pod, spec, self.kubelet.lookup(self.namespace), home, extra)
        env = {k: mounts.rewrite(v) for k, v in env.items()}
        rewrite_service_url(env, self.bind_ip)
        argv = [mounts.rewrite(a) for a in command_line(spec, env)]
        cwd = self._working_dir(spec.get("workingDir"), mounts, home)
        return env, argv, cwd

    def _working_dir(self, path: str | None, mounts: Mounts, home: Path) -> Path:
        """A mounted path's directory; else the host's directory standing in for the image's;
        else one made in the pod's own directory (never a new directory on the host)."""
        if not path:
            return home
        mounted = mounts.rewrite(path)
        if mounted != path or Path(path).is_dir():
            cwd = Path(mounted)
        else:
            cwd = self.dir / "fs" / path.lstrip("/")
        cwd.mkdir(parents=True, exist_ok=True)
        return cwd

    async def _wait_or_stop(self, run: ContainerRun) -> int | None:
        assert run.process is not None
        code = await self._unless_stopped(run.process.wait())
        if code is not None:
            self._record_exit(run, code)
        return code

    async def _unless_stopped(self, exit_code: Awaitable[int]) -> int | None:
        """The exit code, or None if the pod stops first."""
        stop = asyncio.get_running_loop().create_task(self.stopping.wait())
        done = asyncio.ensure_future(exit_code)
        await asyncio.wait({stop, done}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not done.done():
            done.cancel()
            return None
        return done.result()

    def _record_exit(self, run: ContainerRun, code: int) -> None:
        started = (run.status.get("state", {}).get("running") or {}).get("startedAt", timestamp())
        if self.site.virtual:
            reason = "Completed" if code == 0 else f"Error: {code}"
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

    async def _readiness(self, run: ContainerRun) -> None:
        probe = run.spec.get("readinessProbe")
        if not probe:
            return
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        period = float(probe.get("periodSeconds", 10))
        needed_ok, needed_fail = (
            int(probe.get("successThreshold", 1)),
            int(probe.get("failureThreshold", 3)),
        )
        ok = fail = 0
        while run.process is not None:
            if await self._probe(probe, run):
                ok, fail = ok + 1, 0
            else:
                ok, fail = 0, fail + 1
            ready = run.ready
            if ok >= needed_ok:
                ready = True
            elif fail >= needed_fail:
                ready = False
            if ready != run.ready:
                run.ready = run.status["ready"] = ready
                self.write()
            await asyncio.sleep(period)

    async def _probe(self, probe: Obj, run: ContainerRun) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = self._port(run.spec, get.get("port"))
            host = get.get("host") or self.bind_ip
            url = f"{get.get('scheme', 'HTTP').lower()}://{host}:{port}{get.get('path', '/')}"

            def fetch() -> bool:
                try:
                    with urlopen(url, timeout=timeout) as response:
                        return 200 <= response.status < 400
                except (OSError, HTTPException) as exc:  # no answer, 4xx/5xx, not HTTP
                    log.debug(
                        "pod %s/%s: probe of %s failed: %s", self.namespace, self.name, url, exc
                    )
                    return False

            return await asyncio.to_thread(fetch)
        if "tcpSocket" in probe:
            port = self._port(run.spec, probe["tcpSocket"].get("port"))
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(probe["tcpSocket"].get("host") or self.bind_ip, port),
                    timeout,
                )
                writer.close()
                return True
            except (OSError, asyncio.TimeoutError):
                return False
        if "exec" in probe:
            command = probe["exec"].get("command") or []
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
                )
                return await asyncio.wait_for(proc.wait(), timeout) == 0
            except (OSError, asyncio.TimeoutError):
                return False
        return True

    @staticmethod
    def _port(spec: Obj, port: object) -> int:
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for p in spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        return 0

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
        if not running:
            return
        if grace is None:
            pod = self.pod()
            deadline = parse_time((pod or {}).get("metadata", {}).get("deletionTimestamp"))
            grace = max((deadline - now()).total_seconds(), 0.0) if deadline else 0.0
        codes = await asyncio.gather(*(r.process.terminate(grace) for r in running if r.process))
        for run, code in zip(running, codes, strict=False):
            self._record_exit(run, code)
            run.done = True
        if self.pod() is not None:
            self.write()

    def _finalize_delete(self) -> None:
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
        run = self.containers.get(container)
        return run is not None and run.process is not None

    def log_path(self, container: str) -> Path | None:
        run = self.containers.get(container)
        if run is None or ("waiting" in run.status["state"] and not run.log_path.exists()):
            return None
        return run.log_path


class Kubelet(Controller):
    """The node agents of the sandbox: a worker per pod bound to one of the nodes it serves."""

    name = "kubelet"

    def __init__(
        self,
        api: Api,
        sites: Iterable[SiteSpec],
        state_dir: Path,
        faults: SiteFaults,
        api_host: str = "127.0.0.1",
        api_port: int = 0,
    ) -> None:
        super().__init__(api)
        self.pods = api.registry.get("pods")
        self.sites = {node.name: site for site in sites for node in site.nodes}
        self.state_dir = state_dir
        self.faults = faults
        self.api_host, self.api_port = api_host, api_port
        self.addresses = AddressPool()
        self.remote_hosts = RemoteHosts()
        self.workers: dict[str, PodWorker] = {}

    def keys(self, event: Event) -> Iterable[Hashable]:
        if event.rt is self.pods and (event.obj.get("spec") or {}).get("nodeName") in self.sites:
            meta = event.obj["metadata"]
            yield (meta["namespace"], meta["name"], meta["uid"])

    def initial_keys(self) -> Iterable[Hashable]:
        return [
            (p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"])
            for p in self.store.list(self.pods)
            if (p.get("spec") or {}).get("nodeName") in self.sites
        ]

    async def reconcile(self, key: Hashable) -> float | None:
        namespace, name, uid = key  # type: ignore[misc]
        pod = self.store.get(self.pods, namespace, name)
        worker = self.workers.get(uid)
        if pod is None or pod["metadata"]["uid"] != uid:
            if worker is not None:
                self.workers.pop(uid, None)
                worker.request_stop()
                worker.task.add_done_callback(lambda _t: remove_pod_dir(worker.dir))
            return None
        if worker is None:
            if pod["metadata"].get("deletionTimestamp"):
                self.api.delete(self.pods, namespace, name, {"gracePeriodSeconds": 0})
            elif not is_terminal_pod(pod):
                site = self.sites[pod["spec"]["nodeName"]]
                self.workers[uid] = PodWorker(self, site, pod)
            return None
        if pod["metadata"].get("deletionTimestamp"):
            worker.request_stop()
        return None

    def lookup(self, namespace: str) -> Lookup:
        registry = self.api.registry

        def find(kind: str, name: str) -> Obj | None:
            return self.store.get(registry.get(kind), namespace, name)

        return find

    async def stop(self, grace: float = 2.0) -> None:
        """Stop routing, then every pod's processes (SIGTERM, SIGKILL after ``grace``)."""
        await super().stop()
        await self.stop_pods(grace)

    async def stop_pods(self, grace: float = 0.5) -> None:
        """End every pod's processes now, leaving the pod objects as they are."""
        workers = list(self.workers.values())
        for worker in workers:
            worker.shutdown(grace)
        await asyncio.wait([w.task for w in workers], timeout=grace + 5) if workers else None
        for worker in workers:
            worker.task.cancel()
        await asyncio.gather(*(w.task for w in workers), return_exceptions=True)
        self.workers.clear()

    def worker_for(self, pod: Obj) -> PodWorker | None:
        return self.workers.get(pod["metadata"]["uid"])

    # -- the API server's LogSource -------------------------------------------------------------

    def log_path(self, pod: Obj, container: str) -> Path | None:
        worker = self.worker_for(pod)
        return worker.log_path(container) if worker else None

    def container_running(self, pod: Obj, container: str) -> bool:
        worker = self.worker_for(pod)
        return worker is not None and worker.container_running(container)

    def running_processes(self) -> int:
        return sum(1 for w in self.workers.values() for r in w.containers.values() if r.process)
