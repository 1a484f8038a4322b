"""A container's process: what it runs with, its start, its exit as the container reports it.

Imitates the kubelet's container runtime manager (pkg/kubelet/kuberuntime:
``startContainer``): the pod's volumes materialized and mounted, the container's environment,
command line and working directory made, the process started (see :mod:`..runtime`, the
container runtime stand-in), a start failure reported as the kubelet does (``StartError``,
``CreateContainerConfigError``, a ``FailedMount`` event), then the ``postStart`` hook
(:mod:`.hooks`) before the container counts as running.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import podshell
from ..objects import Obj, timestamp
from ..podenv import EnvError, command_line, container_env, rewrite_service_url
from ..podshell import IMAGE_HOME
from ..runtime import LocalProcess
from ..volumes import Mounts, VolumeError, materialize, mounts_for
from . import hooks

if TYPE_CHECKING:
    from .podworker import PodWorker


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


async def start_process(worker: PodWorker, run: ContainerRun) -> bool | None:
    """Start the process: True; a start error recorded as terminated: False; stopped: None."""
    while True:
        pod = worker.pod()
        if pod is None or worker.stopping.is_set():
            return None
        try:
            volumes = materialize(
                pod,
                worker.dir,
                worker.kubelet.state_dir / "claims",
                worker.kubelet.lookup(worker.namespace),
                allow_claims=not worker.site.virtual,
            )
            mounts = mounts_for(run.spec, volumes)
            env, argv, cwd = _process_args(worker, pod, run.spec, mounts)
            break
        except VolumeError as exc:
            run.status["state"] = {"waiting": {"reason": "ContainerCreating"}}
            worker.write()
            worker.api.event(pod, "FailedMount", str(exc), type="Warning", component="kubelet")
        except EnvError as exc:
            run.status["state"] = {
                "waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}
            }
            worker.write()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(worker.stopping.wait(), 1.0)
    stamp = timestamp()
    container_id = (
        f"sandbox://{worker.uid[:8]}-{run.spec['name']}-{run.status.get('restartCount', 0)}"
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
            argv, env, cwd, run.log_path, isolated=not worker.connected
        )
    except OSError as exc:
        return start_error(f'exec: "{argv[0]}": {exc.strerror or exc}')
    run.status["containerID"] = container_id
    run.context = ProcessContext(env, cwd, mounts)
    if not run.spec.get("_init"):
        worker.api.event(
            pod, "Started", f"Started container {run.spec['name']}", component="kubelet"
        )
    hook = ((run.spec.get("lifecycle") or {}).get("postStart") or {}).get("exec")
    if hook is not None:
        command = list(hook.get("command") or [])
        hooked = await hooks.post_start(
            worker, pod, run, command=command, env=env, cwd=cwd, mounts=mounts
        )
        if not hooked:
            return hooked
    run.status.update(started=True, state={"running": {"startedAt": stamp}})
    run.ready = not run.spec.get("readinessProbe") and not run.spec.get("_init")
    run.status["ready"] = run.ready
    worker.write()
    return True


def _process_args(
    worker: PodWorker, pod: Obj, spec: Obj, mounts: Mounts
) -> tuple[dict[str, str], list[str], Path]:
    """The container's environment, command line and working directory, its volumes' paths
    rewritten to where they are mounted, its service URL pointed at the pod's address.

    HOME and the default working directory are the image's home (``/home/jovyan``): the
    volume mounted there (a user's home claim), else a directory of the pod's own. ``SHELL``
    is the sandbox's stand-in for the image's bash (:mod:`..podshell`)."""
    mounted_home = mounts.rewrite(IMAGE_HOME)
    home = Path(mounted_home) if mounted_home != IMAGE_HOME else worker.dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    extra = {
        "POD_IP": worker.bind_ip,
        "KUBERNETES_SERVICE_HOST": worker.kubelet.api_host,
        "KUBERNETES_SERVICE_PORT": str(worker.kubelet.api_port),
        "SHELL": str(podshell.install(worker.kubelet.state_dir)),
    }
    env = container_env(pod, spec, worker.kubelet.lookup(worker.namespace), home, extra)
    env = {k: mounts.rewrite(v) for k, v in env.items()}
    env[podshell.HOME_VAR] = IMAGE_HOME  # the container's path, not where the host keeps it
    rewrite_service_url(env, worker.bind_ip)
    argv = [mounts.rewrite(a) for a in command_line(spec, env)]
    cwd = _working_dir(worker, spec.get("workingDir"), mounts, home)
    return env, argv, cwd


def _working_dir(worker: PodWorker, path: str | None, mounts: Mounts, home: Path) -> Path:
    """A mounted path's directory; else the host's directory standing in for the image's;
    else one made in the pod's own directory (never a new directory on the host)."""
    if not path:
        return home
    mounted = mounts.rewrite(path)
    if mounted != path or Path(path).is_dir():
        cwd = Path(mounted)
    else:
        cwd = worker.dir / "fs" / path.lstrip("/")
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd
